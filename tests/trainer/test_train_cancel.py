"""Cancellation stops a training, raises TrainingCancelled and leaves nothing in the output directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgetrain_trainer.errors import InvalidArgumentError, TrainingCancelled
from edgetrain_trainer.train import train
from edgetrain_trainer.types import TrainRequest

CARDS = Path(__file__).parent / "data" / "cards_small" / "annotations.csv"


def _request(tmp_path: Path, overrides: dict) -> TrainRequest:
    """A low-latency training of the small cards set into tmp_path/out."""
    return TrainRequest(
        data=CARDS,
        out_dir=tmp_path / "out",
        model_type="mobile-low-latency-1",
        budget_milli_node_hours=1000,
        overrides=overrides,
    )


@pytest.mark.slow
@pytest.mark.parametrize("cancel_in_phase", ["features", "head"])
def test_cancel_raises_and_leaves_no_output(tmp_path, cancel_in_phase):
    phases = []
    request = _request(tmp_path, {"max_epochs": 3, "cache_views": 1})
    with pytest.raises(TrainingCancelled):
        train(request, progress=lambda p: phases.append(p.phase), cancel=lambda: cancel_in_phase in phases)
    assert cancel_in_phase in phases
    assert "export" not in phases
    assert list(tmp_path.iterdir()) == []


def test_unknown_override_is_rejected_before_any_work(tmp_path):
    request = TrainRequest(data=CARDS, out_dir=tmp_path / "out", overrides={"epochs_max": 1})
    with pytest.raises(InvalidArgumentError, match="'epochs_max'"):
        train(request)
    assert list(tmp_path.iterdir()) == []


def test_non_empty_output_directory_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("user data")
    with pytest.raises(InvalidArgumentError, match="not empty"):
        train(TrainRequest(data=CARDS, out_dir=tmp_path / "out"))
    assert (tmp_path / "out" / "keep.txt").read_text() == "user data"


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("a-file", "out_dir: .*a-file exists and is not a folder"),
        ("a-file/out", "out_dir: .*a-file exists and is not a folder"),
        ("a-file/sub/out", "out_dir: .*a-file exists and is not a folder"),
    ],
)
def test_an_output_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path, out, message):
    """Found only when the trained package was written, after the whole training, until it was checked."""
    (tmp_path / "a-file").write_text("user data")
    with pytest.raises(InvalidArgumentError, match=message):
        train(TrainRequest(data=CARDS, out_dir=tmp_path / out))
    assert (tmp_path / "a-file").read_text() == "user data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_an_output_folder_nothing_can_be_written_into_is_refused_before_any_work():
    with pytest.raises(InvalidArgumentError, match=r"out_dir: cannot write into /proc \("):
        train(TrainRequest(data=CARDS, out_dir=Path("/proc/edgetrain-out")))


@pytest.mark.slow
def test_feature_cache_stays_within_its_memory_cap(tmp_path):
    """A dataset too large for cache_max_mib gets fewer views, then a subset of its images, in the cache."""
    messages = []
    request = _request(tmp_path, {"max_epochs": 1, "cache_max_mib": 1})
    built = re.compile(r"^cached \d+ views")
    with pytest.raises(TrainingCancelled):  # stop once the cache is built: the rest is tested elsewhere
        train(request, lambda p: messages.append(p.message), cancel=lambda: any(map(built.match, messages)))
    cached = next(m for m in messages if built.match(m))
    views, images = (int(n) for n in re.search(r"(\d+) views of (\d+) images", cached).groups())
    assert views == 1 and 1 <= images < 20  # the small cards set has more than 20 training images
    assert int(re.search(r"\((\d+) MiB\)", cached).group(1)) <= 1


@pytest.mark.slow
def test_images_over_their_memory_cap_train_from_their_files(tmp_path):
    """With images_max_mib too small for the images, fine-tuning and validation decode them on use."""
    reports = []
    overrides = {"max_epochs": 1, "cache_features": False, "max_train_images": 16, "images_max_mib": 1}
    request = _request(tmp_path, overrides)
    validated = lambda: any(p.phase == "finetune" and p.val_map is not None for p in reports)  # noqa: E731
    with pytest.raises(TrainingCancelled):  # stop after one validated epoch: export is tested elsewhere
        train(request, reports.append, cancel=validated)
    assert any("train and validation images decoded on use" in p.message for p in reports)
    assert validated()
    assert list(tmp_path.iterdir()) == []
