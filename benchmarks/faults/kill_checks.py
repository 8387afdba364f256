"""What the kill scenario checks after its SIGKILLs: nothing stuck, nothing run twice, nothing lost, and
Firestore (the pipeline's view) agreeing with the service.

A Tracker is shown the service's state before every kill; at the end it compares what it saw acknowledged
(a finished import's rows, a finished training's model files, every finished operation's outcome) with what
is there now.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.faults import service_view
from benchmarks.faults.stack import FaultStack

WORK_KINDS = ("import", "train", "export")
_START_LINE = re.compile(r"^(\S+ \S+) INFO \S+: train job (\S+): worker pid")
_STATES = {0: "SUCCEEDED", 1: "CANCELLED"}


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    if not folder.is_dir():
        return {}
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


class Tracker:
    def __init__(self, stack: FaultStack):
        self.stack = stack
        self.outcomes: dict[str, tuple[int, str]] = {}  # op -> (error code, model) when first seen done
        self.done_at: dict[str, float] = {}  # op -> wall time first seen done
        self.rows: dict[str, int] = {}  # dataset -> example count once its import succeeded
        self.model_files: dict[str, dict[str, tuple[int, int]]] = {}  # model -> files once trained

    def observe(self) -> list[service_view.Op]:
        ops = service_view.operations(self.stack)
        imported: dict[str, str] | None = None  # import operation -> dataset, from the pipeline's records
        for op in ops:
            if not op.done or op.name in self.outcomes:
                continue
            if op.kind == "import" and op.error_code == 0:
                if imported is None:
                    imported = {d.get("operation"): d.get("dataset") for d in self.stack.docs("imports")}
                if op.name not in imported:
                    continue  # not recorded by the pipeline (yet): looked at again next time
                self.rows[imported[op.name]] = self.stack.automl.get_dataset(
                    name=imported[op.name]
                ).example_count
            self.outcomes[op.name], self.done_at[op.name] = (op.error_code, op.model), time.time()
            if op.kind == "train" and op.error_code == 0 and op.model:
                self.model_files[op.model] = _files(self._model_dir(op.model))
        return ops

    def _model_dir(self, model: str) -> Path:
        return self.stack.service.data_dir / "models" / model.rsplit("/", 1)[-1]

    # ---- the figures
    def figures(self) -> dict[str, Any]:
        ops = {op.name: op for op in self.observe()}
        stuck = [name for name, op in ops.items() if op.kind in WORK_KINDS and not op.done]
        changed = [
            n for n, seen in self.outcomes.items() if n in ops and (ops[n].error_code, ops[n].model) != seen
        ]
        missing_ops = [n for n in self.outcomes if n not in ops]
        lost_rows = [d for d, rows in self.rows.items() if self._rows_now(d) < rows]
        lost_models, rewritten = [], []
        for model, files in self.model_files.items():
            now = _files(self._model_dir(model))
            if not self._model_exists(model) or not set(files) <= set(now):
                lost_models.append(model)
            elif any(now[f] != files[f] for f in files):
                rewritten.append(model)
        restarted = self._started_after_done()
        return {
            "stuck_running": len(stuck),
            "trainings_run_twice": len(set(rewritten) | set(restarted)),
            "rows_lost": len(lost_rows),
            "models_lost": len(lost_models),
            "outcomes_changed": len(changed) + len(missing_ops),
            "operations": len(ops),
            "finished_ok": sum(
                op.done and op.error_code == 0 for op in ops.values() if op.kind in WORK_KINDS
            ),
            "finished_failed": sum(
                op.done and op.error_code != 0 for op in ops.values() if op.kind in WORK_KINDS
            ),
            "datasets_checked": len(self.rows),
            "models_checked": len(self.model_files),
            "examples": (stuck + changed + lost_rows + lost_models + rewritten + restarted)[:6],
        }

    def _rows_now(self, dataset: str) -> int:
        try:
            return self.stack.automl.get_dataset(name=dataset).example_count
        except Exception:  # NotFound: every row lost
            return -1

    def _model_exists(self, model: str) -> bool:
        try:
            self.stack.automl.get_model(name=model)
            return True
        except Exception:
            return False

    def _started_after_done(self) -> list[str]:
        """Trainings whose worker the service started again after the operation was seen finished."""
        text = self.stack.service.log_path.read_text(errors="replace")
        again = []
        for line in text.splitlines():
            match = _START_LINE.match(line)
            if not match or match.group(2) not in self.done_at:
                continue
            started = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if started > self.done_at[match.group(2)] + 1:
                again.append(match.group(2))
        return sorted(set(again))


def firestore_disagreements(stack: FaultStack) -> list[str]:
    """Each training, export and import the pipeline recorded whose state differs from the service's, and
    each training the service ran that Firestore does not know."""
    ops = {op.name: op for op in service_view.operations(stack)}
    problems, known = [], set()
    for training in stack.docs("trainings"):
        name = training.get("operation")
        known.add(name)
        if name is None and training.get("state") in ("FAILED", "CANCELLED"):
            continue  # refused before any operation existed: nothing ran
        if name is None or name not in ops:
            problems.append(f"training {training['_id']}: {training.get('state')} with operation {name}")
            continue
        if training.get("state") != _state(ops[name]):
            problems.append(
                f"training {training['_id']}: {training.get('state')}, service {_state(ops[name])}"
            )
        for fmt, export in (training.get("exports") or {}).items():
            op = ops.get(export.get("operation") or "")
            if op is not None and export.get("state") != _state(op):
                problems.append(
                    f"export {training['_id']}/{fmt}: {export.get('state')}, service {_state(op)}"
                )
    for imp in stack.docs("imports"):
        op = ops.get(imp.get("operation") or "")
        if op is None and imp.get("state") == "FAILED" and not imp.get("operation"):
            continue  # ImportData refused: nothing ran
        if op is None or imp.get("state") != _state(op):
            problems.append(
                f"import {imp['_id']}: {imp.get('state')}, service {_state(op) if op else 'none'}"
            )
    problems += [
        f"training {n} unknown to Firestore" for n, op in ops.items() if op.kind == "train" and n not in known
    ]
    return problems


def _state(op: service_view.Op) -> str:
    if not op.done:
        return "RUNNING"
    return _STATES.get(op.error_code, "FAILED")
