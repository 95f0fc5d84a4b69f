"""prune-rnn tables: points, the per-(mode, scope) summary and per-p mean ± std over repeats.

A base model that does not beat chance (the test set's majority-class accuracy) by
``chance_margin`` is flagged (``below_chance``) and left out of ``tolerated_p`` with a
:class:`~hiddenstruct.stats.ChanceLevelWarning`: a model at chance "tolerates" any pruning.
Undefined values are NaN with the reason in ``notes`` (:mod:`hiddenstruct.stats`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hiddenstruct import stats

#: Chance for trials stored before ``chance_accuracy`` was recorded: the Reber test sets of
#: hiddenstruct's generator are balanced (half valid, half invalid strings).
ASSUMED_CHANCE = 0.5


def epochs_to_recover(point: dict[str, Any], base: float, tolerance: float) -> int | None:
    """0 when no retraining was needed, k when epoch k recovered, None when it never did."""
    if point["accuracy_pruned"] >= base - tolerance:
        return 0
    for k, acc in enumerate(point["accuracy_retrained"], start=1):
        if acc >= base - tolerance:
            return k
    return None


def chance_of(record: dict[str, Any], margin: float) -> stats.ChanceCheck:
    """The chance check of one finished trial (stored chance, else :data:`ASSUMED_CHANCE`)."""
    result = record["result"]
    chance = result.get("chance_accuracy", ASSUMED_CHANCE)
    return stats.chance_check(result["base_accuracy"], chance, margin)


def _tolerated(items: list[tuple[float, dict]], tolerance: float) -> float:
    ps = sorted({pt["p"] for _, pt in items})
    tolerated = 0.0
    for p in ps:
        if not all(epochs_to_recover(pt, b, tolerance) == 0 for b, pt in items if pt["p"] == p):
            break
        tolerated = p
    return tolerated


def _epochs_columns(items, all_ps, tolerated: float, tolerance: float) -> dict[str, Any]:
    row: dict[str, Any] = {f"epochs@{int(round(p * 100))}%": "" for p in all_ps}
    for p in sorted({pt["p"] for _, pt in items}):
        if p > tolerated:
            needed = [epochs_to_recover(pt, b, tolerance) for b, pt in items if pt["p"] == p]
            cap = max(len(pt["accuracy_retrained"]) for _, pt in items if pt["p"] == p)
            row[f"epochs@{int(round(p * 100))}%"] = f">{cap}" if None in needed else max(needed)
    return row


def summarize(
    records: list[dict[str, Any]], tolerance: float, chance_margin: float = stats.CHANCE_MARGIN
) -> list[dict[str, Any]]:
    """Per (mode, scope): base accuracy mean ± std (n), largest tolerated p, epochs to recover.

    Only repeats whose base beats chance count towards ``tolerated_p`` and the epochs; with
    none left, ``tolerated_p`` is NaN and ``notes`` says why.
    """
    groups: dict[tuple[str, str], list[tuple[dict, dict]]] = defaultdict(list)
    for rec in records:
        for point in rec["result"]["points"]:
            groups[(rec["mode"], point["scope"])].append((rec, point))
    all_ps = sorted({pt["p"] for items in groups.values() for _, pt in items})
    rows = []
    for (mode, scope), members in sorted(groups.items()):
        checks = {id(rec): chance_of(rec, chance_margin) for rec, _ in members}
        kept = [
            (r["result"]["base_accuracy"], pt) for r, pt in members if checks[id(r)].above_chance
        ]
        flagged = {id(r): r for r, _ in members if not checks[id(r)].above_chance}
        base = stats.summarize({id(r): r["result"]["base_accuracy"] for r, _ in members}.values())
        reasons = [f"base: {base.reason}" if base.reason else None]
        for rec in flagged.values():
            label = f"{mode} {scope} seed {rec.get('seed', '?')}"
            reasons.append(f"seed {rec.get('seed', '?')} excluded: {checks[id(rec)].reason}")
            stats.tolerated_or_undefined(0.0, checks[id(rec)], label)  # warns
        if kept:
            tolerated: float = _tolerated(kept, tolerance)
        else:
            tolerated = float("nan")
            reasons.append("tolerated p undefined: no base model beats chance")
        row = {
            "mode": mode,
            "scope": scope,
            "base_accuracy": round(base.mean, 4),
            "base_accuracy_std": base.std,
            "base_accuracy_n": base.n,
            "below_chance": len(flagged),
            "tolerated_p": tolerated,
            **_epochs_columns(kept, all_ps, tolerated, tolerance),
            "notes": stats.notes(*reasons),
        }
        rows.append(row)
    return rows


def point_rows(records: list[dict[str, Any]], tolerance: float, margin: float) -> list[dict]:
    """One row per (trial, scope, p), with the trial's chance flag."""
    rows = []
    for rec in records:
        base = rec["result"]["base_accuracy"]
        above = chance_of(rec, margin).above_chance
        for pt in rec["result"]["points"]:
            epochs = epochs_to_recover(pt, base, tolerance)
            retrained = pt["accuracy_retrained"]
            rows.append(
                {
                    "mode": rec["mode"],
                    "repeat": rec["repeat"],
                    "base_accuracy": base,
                    "base_above_chance": above,
                    "scope": pt["scope"],
                    "p": pt["p"],
                    "zero_fraction": pt["zero_fraction"],
                    "accuracy_pruned": pt["accuracy_pruned"],
                    "accuracy_retrained": " ".join(f"{a:.4f}" for a in retrained),
                    "accuracy_final": retrained[-1] if retrained else pt["accuracy_pruned"],
                    "epochs_to_recover": f">{len(retrained)}" if epochs is None else epochs,
                }
            )
    return rows


def spread_rows(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (mode, scope, p): mean ± std and n over repeats of the accuracies in ``points``."""
    values = ["accuracy_pruned", "accuracy_final", "zero_fraction"]
    return stats.summarize_groups(points, ["mode", "scope", "p"], values)
