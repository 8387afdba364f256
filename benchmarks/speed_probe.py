"""A fixed TensorFlow workload timed around every benchmark run, so runs made hours apart can be compared.

On the 2-core machine the same packages and the same code ran 35–50 % slower for hours at a time, with the
guest idle and no steal time visible: a larger swing than most differences the benchmarks are meant to
show. The probe puts a number on the machine's speed at the time of each run.

    python -m benchmarks.speed_probe      # prints {"step_ms": ..., ...}

Workload: training steps (forward, backward, SGD update) of MobileNetV2 at 224 px, batch 8, random weights
and images, 2 TF threads, in a fresh process as a trainer run starts; WARMUP steps, then the median of STEPS.
Lower is faster; compare it only between records with the same probe version.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

VERSION = 1  # bump when the workload changes: step times of different versions do not compare
THREADS, BATCH, INPUT, WARMUP, STEPS = 2, 8, 224, 3, 10
TIMEOUT_S = 300


def measure() -> dict[str, float | int]:
    """Run the workload in this process (TF must not be initialized yet) and return its step times."""
    import keras
    import tensorflow as tf

    from edgetrain_trainer.model.backbones import build_backbone
    from edgetrain_trainer.train import configure_runtime

    configure_runtime(THREADS, seed=0)  # the thread pools and seeding a training sets up
    model = build_backbone("mobilenet_v2", INPUT, weights=False)
    optimizer = keras.optimizers.SGD(1e-3)
    images = tf.random.uniform((BATCH, INPUT, INPUT, 3), 0, 255, seed=0)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.add_n([tf.reduce_mean(tf.square(c)) for c in model(images, training=True)])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    times = []
    for i in range(WARMUP + STEPS):
        started = time.perf_counter()
        step().numpy()
        if i >= WARMUP:
            times.append((time.perf_counter() - started) * 1000)
    return {
        "version": VERSION,
        "step_ms": round(statistics.median(times), 1),
        "fastest_ms": round(min(times), 1),
        "slowest_ms": round(max(times), 1),
    }


def probe() -> dict[str, float | int] | None:
    """measure() in a child process; None (with a warning on stderr) if it fails, so that a broken probe
    never costs a benchmark run."""
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ}
    try:
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.speed_probe"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            env=env,
            check=True,
        )
        return json.loads(child.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as error:
        print(f"warning: speed probe failed: {error}", file=sys.stderr)
        return None


if __name__ == "__main__":
    print(json.dumps(measure()), flush=True)
