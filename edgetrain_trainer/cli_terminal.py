"""What `edgetrain train` shows in the terminal (the progress bar, the closing summary) and how Ctrl-C
cancels a training there."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .types import TrainRequest


def summary(
    result: Any,
    request: TrainRequest,
    evaluated_on: str,
    bad_rows: int,
    exports: dict[str, Path] | None = None,
) -> str:
    """The closing report: stop reason, cost, accuracy, latency, size and where the package is."""
    minutes, seconds = divmod(int(round(result.wall_seconds)), 60)
    lines = [
        f"Trained {result.model_type} ({', '.join(result.labels)}): {result.stop_reason.value}",
        f"  cost          {result.train_cost_milli_node_hours:,} milli node hours "
        f"(budget {request.budget_milli_node_hours:,}), wall time {minutes}m {seconds:02d}s",
        f"  mAP@0.5       {result.map50:.3f}  ({evaluated_on} rows, exported {request.quantization} TF Lite)",
        f"  mAP@[.5:.95]  {result.map50_95:.3f}",
        f"  latency       {result.latency_ms:.1f} ms (median, 2 threads)",
        f"  size          {result.size_bytes / 1e6:.2f} MB",
        f"  package       {result.package_dir}",
        f"  model         {result.model_dir}",
    ]
    lines += [f"  {fmt:<13} {path}" for fmt, path in (exports or {}).items()]
    if bad_rows:
        lines.append(f"  bad rows      {bad_rows} skipped (listed above)")
    return "\n".join(lines)


class ProgressBar:
    """A tqdm bar over 0–100 % with phase, epoch, losses and validation mAP; messages print above it."""

    def __enter__(self) -> ProgressBar:
        from tqdm import tqdm

        self._bar = tqdm(
            total=100.0, unit="%", bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}<{remaining}]{postfix}"
        )
        self._last_message = ""
        return self

    def update(self, progress: Any) -> None:
        self._bar.n = min(max(float(progress.percent), 0.0), 100.0)
        parts = [progress.phase]
        if progress.epoch is not None:
            parts.append(f"epoch {progress.epoch}")
        parts += [f"{name} {value:.3f}" for name, value in progress.losses.items()]
        if progress.val_map is not None:
            parts.append(f"val mAP@0.5 {progress.val_map:.3f}")
        self._bar.set_postfix_str(", ".join(parts), refresh=False)
        if progress.message and progress.message != self._last_message:
            self._last_message = progress.message
            self._bar.write(f"[{progress.phase}] {progress.message}", file=sys.stderr)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()

    def __exit__(self, *exc_info: object) -> None:
        self._bar.close()


class CancelOnInterrupt:
    """Turns the first SIGINT into a cancel request (the trainer's cancel hook); the second aborts."""

    def __enter__(self):
        self._event = threading.Event()
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: no signal handling, the hook just never fires
            self._previous = None
        return self._event.is_set

    def _handle(self, _signum: int, _frame: object) -> None:
        if self._event.is_set():
            raise KeyboardInterrupt
        self._event.set()
        print("\ncancelling... (press Ctrl-C again to abort at once)", file=sys.stderr)

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
