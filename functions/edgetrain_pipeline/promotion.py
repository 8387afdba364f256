"""The promotion rule, as a pure function over the two evaluations of the same TEST images.

A challenger is promoted only if
1. metric: its CHAMPION_METRIC beats the champion's by at least CHAMPION_MIN_IMPROVEMENT (and by something),
2. label-drop: no label's AP@0.5 falls by more than MAX_LABEL_AP_DROP (a label the champion never saw has no
   champion AP, so it cannot drop),
3. latency: its int8 latency is at most MAX_LATENCY_INCREASE_MS above the champion's (skipped, and said so,
   when either latency is unknown).
The first rule that refuses decides (decided_by); the reason names every rule that refused. Without a
comparison on the same images (champion deleted, a backend that does not compare) stored_value_rule() applies
today's rule to the champion's stored metric and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Decision.decided_by: the rule that refused, or why the challenger became champion
METRIC, LABEL_DROP, LATENCY = "metric", "label-drop", "latency"
FIRST_MODEL, PROMOTED = "first-model", "promoted"


@dataclass(frozen=True)
class Rule:
    metric: str  # CHAMPION_METRIC: a key of the evaluation summary
    min_improvement: float  # CHAMPION_MIN_IMPROVEMENT
    max_label_drop: float  # MAX_LABEL_AP_DROP
    max_latency_increase_ms: float  # MAX_LATENCY_INCREASE_MS

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "minImprovement": self.min_improvement,
            "maxLabelDrop": self.max_label_drop,
            "maxLatencyIncreaseMs": self.max_latency_increase_ms,
        }


@dataclass(frozen=True)
class Decision:
    promoted: bool
    decided_by: str  # METRIC, LABEL_DROP, LATENCY (the first rule that refused), FIRST_MODEL or PROMOTED
    reason: str  # one line for people: the figures behind each rule
    labels: list[dict[str, Any]] = field(default_factory=list)  # {label, challengerAp50, championAp50, drop}


def label_figures(challenger: Mapping[str, Any], champion: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each of the challenger's labels with both AP@0.5 side by side; championAp50 and drop are None for a
    label the champion has no figure for (it never saw it)."""
    theirs = {e["label"]: e.get("ap50") for e in champion.get("perLabel", [])}
    rows = []
    for entry in challenger.get("perLabel", []):
        ours, before = entry.get("ap50"), theirs.get(entry["label"])
        drop = None if ours is None or before is None else round(before - ours, 6)
        rows.append({"label": entry["label"], "challengerAp50": ours, "championAp50": before, "drop": drop})
    return rows


def first_model() -> Decision:
    return Decision(True, FIRST_MODEL, "first model of the dataset")


def decide(
    rule: Rule,
    challenger: Mapping[str, Any],
    champion: Mapping[str, Any],
    challenger_latency_ms: float | None,
    champion_latency_ms: float | None,
) -> Decision:
    """Apply the three rules to two evaluation summaries of the same images (evaluation.with_images)."""
    labels = label_figures(challenger, champion)
    ours, theirs = challenger.get(rule.metric), champion.get(rule.metric)
    if ours is None or theirs is None:
        missing = "the challenger's" if ours is None else "the champion's"
        return Decision(False, METRIC, f"{missing} evaluation has no {rule.metric}", labels)
    refused: list[tuple[str, str]] = []
    passed: list[str] = []
    gain = ours - theirs
    metric_text = (
        f"{rule.metric} {ours:.4f} vs the champion's {theirs:.4f} on the same "
        f"{challenger.get('imageCount', '?')} images (+{rule.min_improvement} required)"
    )
    if gain > 0 and gain >= rule.min_improvement:
        passed.append(metric_text)
    else:
        refused.append((METRIC, metric_text))
    drops = [row for row in labels if row["drop"] is not None and row["drop"] > rule.max_label_drop]
    if drops:
        shown = ", ".join(
            f"{row['label']} {row['championAp50']:.3f} → {row['challengerAp50']:.3f}" for row in drops
        )
        refused.append((LABEL_DROP, f"AP@0.5 drops more than {rule.max_label_drop} on {shown}"))
    else:
        passed.append(f"no label's AP@0.5 drops more than {rule.max_label_drop}")
    if challenger_latency_ms is None or champion_latency_ms is None:
        passed.append("latency rule skipped: the backend reported no int8 latency for both models")
    else:
        latency_text = (
            f"int8 latency {challenger_latency_ms:.1f} ms vs {champion_latency_ms:.1f} ms "
            f"(+{rule.max_latency_increase_ms} ms allowed)"
        )
        if challenger_latency_ms - champion_latency_ms > rule.max_latency_increase_ms:
            refused.append((LATENCY, latency_text))
        else:
            passed.append(latency_text)
    if refused:
        return Decision(False, refused[0][0], "refused: " + "; ".join(text for _, text in refused), labels)
    return Decision(True, PROMOTED, "promoted: " + "; ".join(passed), labels)


def stored_value_rule(rule: Rule, value: float | None, stored: float, why: str) -> Decision:
    """Today's rule: the challenger's metric on its own TEST images against the champion's stored value
    (from an older snapshot: not the same images). `why`: why no comparison on the same images exists."""
    if value is None:
        return Decision(False, METRIC, f"the evaluation has no {rule.metric}")
    gain = value - stored
    promoted = gain > 0 and gain >= rule.min_improvement
    relation = "beats" if promoted else "does not beat"
    return Decision(
        promoted,
        PROMOTED if promoted else METRIC,
        f"{rule.metric} {value:.4f} {relation} the champion's stored {stored:.4f} "
        f"(+{rule.min_improvement} required; not the same images: {why})",
    )
