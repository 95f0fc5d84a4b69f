"""What prune-rnn writes from its finished trials: points.csv, points_summary.csv,
summary.csv and Figures 2b / 5a / 5b (:mod:`.summary` computes the tables)."""

from __future__ import annotations

from pathlib import Path

from hiddenstruct.experiments.prune_rnn.config import EXPERIMENT, PruneRNNConfig
from hiddenstruct.experiments.prune_rnn.summary import point_rows, spread_rows, summarize
from hiddenstruct.experiments.reber_inputs import write_overlap
from hiddenstruct.outputs import write_csv
from hiddenstruct.trials.outcome import require_finished
from hiddenstruct.trials.store import TrialRecord


def _figures(records, out_dir: Path) -> dict[str, str]:
    """Figures 2b / 5a / 5b: see :func:`hiddenstruct.experiments.prune_ffn.figures.recurrent_scope_figures`."""
    # here, not at the top: every command line imports this module, and these load pandas
    import pandas as pd

    from hiddenstruct.experiments.prune_ffn.figures import recurrent_scope_figures

    rows = [
        {
            "mode": rec["mode"],
            "repeat": rec.get("repeat", 0),
            "scope": pt["scope"],
            "p": pt["p"],
            "base_accuracy": rec["result"]["base_accuracy"],
            "accuracy_pruned": pt["accuracy_pruned"],
            "accuracy_retrained": (
                pt["accuracy_retrained"][0] if pt["accuracy_retrained"] else float("nan")
            ),
        }
        for rec in records
        for pt in rec["result"]["points"]
    ]
    return recurrent_scope_figures(pd.DataFrame(rows), out_dir)


def write_outputs(
    records: list[TrialRecord], out_dir: Path, config: PruneRNNConfig | None = None
) -> dict[str, str]:
    """points.csv, summary.csv and Figures 2b / 5a / 5b from the finished trials."""
    config = config or PruneRNNConfig()
    tolerance, margin = config.tolerance, config.chance_margin
    done = [{**r.config, "result": r.result} for r in require_finished(EXPERIMENT, records)]
    rows = point_rows(done, tolerance, margin)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {
        "points": str(write_csv(out_dir / "points.csv", rows)),
        "points spread": str(write_csv(out_dir / "points_summary.csv", spread_rows(rows))),
        "summary": str(write_csv(out_dir / "summary.csv", summarize(done, tolerance, margin))),
    }
    written.update(_figures(done, out_dir))
    written.update(write_overlap([rec["result"] for rec in done], out_dir))
    written["trials"] = f"{len(done)}/{len(records)} done"
    return written
