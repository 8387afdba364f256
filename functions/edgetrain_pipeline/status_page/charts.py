"""Server-side SVG geometry for the status page's charts (no chart library, no script needed to draw them):
a precision/recall curve per label, and a training's loss and validation mAP per epoch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .values import finite_number

PR_W, PR_H, PR_PAD = 220, 170, 28  # one label's precision/recall chart, px
LC_W, LC_H, LC_PAD = 520, 200, 36  # the learning curve chart, px


def pr_xy(recall: float, precision: float) -> tuple[float, float]:
    """Where (recall, precision), both 0–1, lands in a PR chart."""
    x = PR_PAD + float(recall) * (PR_W - 2 * PR_PAD)
    y = PR_H - PR_PAD - float(precision) * (PR_H - 2 * PR_PAD)
    return round(x, 1), round(y, 1)


def pr_points(recall: Sequence[float], precision: Sequence[float]) -> str:
    """An SVG polyline's points, ordered by recall so the line reads left to right."""
    pairs = sorted(zip(recall, precision, strict=False))
    return " ".join("{},{}".format(*pr_xy(r, p)) for r, p in pairs)


def learning_lines(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Polylines of loss (scaled to its largest value) and validation mAP@0.5 (0–1) against the epoch's
    position in the run (the stages' epochs one after the other), with the axis labels to print."""
    if not points:
        return {}
    span = max(len(points) - 1, 1)
    # a training that diverged logs NaN or inf: such a point is left out, and one would hide the whole line
    losses = [finite_number(p.get("loss")) for p in points]
    top_loss = max((v for v in losses if v is not None), default=0.0) or 1.0

    def xy(i: int, fraction: float) -> str:
        x = LC_PAD + i / span * (LC_W - 2 * LC_PAD)
        y = LC_H - LC_PAD - fraction * (LC_H - 2 * LC_PAD)
        return f"{x:.1f},{y:.1f}"

    loss_line = " ".join(xy(i, v / top_loss) for i, v in enumerate(losses) if v is not None)
    maps = [(i, finite_number(p.get("valMap50"))) for i, p in enumerate(points)]
    map_line = " ".join(xy(i, v) for i, v in maps if v is not None)
    stages = []
    for i, p in enumerate(points):
        if i == 0 or p.get("stage") != points[i - 1].get("stage"):
            x = round(LC_PAD + i / span * (LC_W - 2 * LC_PAD), 1)
            near_right = x > LC_W - LC_PAD - 60  # the name then ends at the line instead of running off
            stages.append({"x": x, "name": p.get("stage"), "anchor": "end" if near_right else "start"})
    return {"loss": loss_line, "map": map_line, "top_loss": top_loss, "stages": stages, "epochs": len(points)}
