"""The outputs of prune-ffn: curves.csv, the accuracy table at the paper's pruning levels and the Figure 2a panels."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from hiddenstruct import stats
from hiddenstruct.experiments.prune_ffn.config import EXPERIMENT, TABLE_POINTS, PruneFFNConfig
from hiddenstruct.outputs import write_csv
from hiddenstruct.trials.outcome import require_finished
from hiddenstruct.trials.store import TrialRecord


def write_outputs(
    records: list[TrialRecord], out_dir: Path, config: PruneFFNConfig | None = None
) -> dict[str, str]:
    """curves.csv, table.csv and the Figure 2a panels from the finished trials."""
    done = require_finished(EXPERIMENT, records)
    rows = []
    for record in done:
        c = record.config
        for point in record.result["points"]:
            rows.append(
                {
                    "architecture": "-".join(map(str, c["hidden"])),
                    "method": c["method"],
                    "schedule": c["schedule"],
                    "retrain": c["retrain"],
                    "repeat": c["repeat"],
                    **point,
                }
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"curves": str(write_csv(out_dir / "curves.csv", rows))}
    table = ffn_table(rows, TABLE_POINTS)
    written["table"] = str(write_csv(out_dir / "table.csv", table))
    written.update(write_ffn_figures(rows, out_dir, (config or PruneFFNConfig()).dataset))
    written["trials"] = f"{len(done)}/{len(records)} done"
    return written


def _grouped(rows, keys):
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[k] for k in keys)].append(row)
    return groups


#: Chance on the 10-class image datasets of prune-ffn (MNIST, digits: about balanced).
FFN_CHANCE = 0.1


def ffn_table(
    rows: list[dict[str, Any]], points=TABLE_POINTS, chance_margin: float = stats.CHANCE_MARGIN
) -> list[dict[str, Any]]:
    """Mean ± std (ddof 1) and n of test accuracy at each fraction removed in ``points``.

    Exact steps, not interpolated. One repeat gives std NaN, no step at a point gives NaN
    accuracy; ``notes`` says why, and flags unpruned models that do not beat chance
    (:data:`FFN_CHANCE`) by ``chance_margin`` (counted in ``below_chance``).
    """

    table = []
    keys = ("architecture", "schedule", "method", "retrain")
    for group, members in sorted(_grouped(rows, keys).items()):
        entry = dict(zip(keys, group, strict=True))
        base = [r["accuracy"] for r in members if r["step"] == 0]
        unpruned = stats.summarize(base)
        low = [a for a in base if not stats.chance_check(a, FFN_CHANCE, chance_margin).above_chance]
        entry.update(unpruned=round(unpruned.mean, 4), unpruned_std=unpruned.std)
        entry.update(repeats=unpruned.n, below_chance=len(low))
        reasons = [f"{len(low)} unpruned model(s) at chance level" if low else None]
        for p in points:
            hits = [r["accuracy"] for r in members if abs(r["zero_fraction"] - p) < 1e-3]
            at = stats.summarize(hits)
            label = f"{int(p * 100)}%"
            entry[f"acc@{label}"] = round(at.mean, 4) if math.isfinite(at.mean) else math.nan
            entry[f"std@{label}"] = round(at.std, 4) if math.isfinite(at.std) else math.nan
            entry[f"n@{label}"] = at.n
            if at.reason:
                reasons.append(f"@{label}: {at.reason}")
        entry["notes"] = stats.notes(*reasons)
        table.append(entry)
    return table


def write_ffn_figures(
    rows: list[dict[str, Any]], out_dir: Path, dataset: str = "digits"
) -> dict[str, str]:
    """Figure 2a per (architecture, schedule): see :func:`hiddenstruct.experiments.prune_ffn.figures.figure2a`."""
    import pandas as pd

    from hiddenstruct.data.images import image_dataset_info
    from hiddenstruct.experiments.figures import dataset_label
    from hiddenstruct.experiments.prune_ffn.figures import figure2a

    info = image_dataset_info(dataset)
    names = {
        arch: f"{info.input_size}-{arch}-{info.num_classes}"
        for arch in {r["architecture"] for r in rows}
    }
    chance = 1.0 / info.num_classes  # the balanced image classes
    return figure2a(pd.DataFrame(rows), dataset_label(dataset), out_dir, names, chance)
