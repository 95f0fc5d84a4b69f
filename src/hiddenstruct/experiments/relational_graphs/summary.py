"""The report section of the relational-graphs experiment: graph2nn's claims (:data:`CLAIMS`)
beside this run's numbers from ``sweet_spot.json``, with verdicts, per model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hiddenstruct.experiments.relational_graphs.config import GRAPH2NN_MLP
from hiddenstruct.experiments.report_sections import (
    AGREES,
    DISAGREES,
    NOT_COMPARABLE,
    Claim,
    Summary,
)

#: graph2nn's claims (their paper and analysis notebook) and the number each one states
CLAIMS = (
    ("graph2nn: a sweet spot of relational graphs not significantly worse than the best "
     "(one-sided t-test, 0.05) lies at moderate clustering and path length",
     "graph2nn: C 0.09–0.72, L 1.63–3.04 (MLP, CIFAR-10, 3 942 graphs × 5 seeds, 200 epochs)"),
    ("graph2nn: the best relational graph beats the complete graph at equal multiply-adds",
     "graph2nn: best 32.05 ± 0.14 % vs complete 33.34 ± 0.36 % top-1 error (MLP, CIFAR-10)"),
)  # fmt: skip


def _fmt(value, digits: int = 2) -> str:
    finite = isinstance(value, (int, float)) and math.isfinite(value)
    return f"{value:.{digits}f}" if finite else "n/a"


def _scale(spot: dict[str, Any]) -> tuple[bool, str]:
    """(same task and scale as graph2nn's MLP, a short description of this run's setting)."""
    setting = spot.get("setting", {})
    model = spot.get("model")
    if model != "mlp":
        return False, f"{model} on Reber strings, not graph2nn's MLP on CIFAR-10"
    text = (
        f"{setting.get('dataset')}, {setting.get('nodes')} nodes, width {setting.get('width')}, "
        f"{setting.get('epochs')} epochs"
    )
    same = setting.get("dataset") == "cifar10" and setting.get("nodes") == 64
    return same and (setting.get("epochs") or 0) >= 100, text


def claims(spot: dict[str, Any]):
    """The two claims with this run's numbers and verdicts, for one model's sweet spot."""
    model = spot.get("model")
    comparable, setting = _scale(spot)
    (text1, paper1), (text2, paper2) = CLAIMS
    if isinstance(spot.get("C_min"), float) and math.isfinite(spot["C_min"]):
        ours = (
            f"{model}: C {_fmt(spot['C_min'])}–{_fmt(spot['C_max'])}, L {_fmt(spot['L_min'])}–"
            f"{_fmt(spot['L_max'])} ({spot.get('in_sweet_spot')} of {spot.get('graphs')} graphs)"
        )
        (c0, c1), (l0, l1) = GRAPH2NN_MLP["sweet_spot_C"], GRAPH2NN_MLP["sweet_spot_L"]
        inside = (
            c0 <= spot["C_min"]
            and spot["C_max"] <= c1
            and l0 <= spot["L_min"]
            and spot["L_max"] <= l1
        )
        if comparable:
            first = Claim(text1, paper1, ours, AGREES if inside else DISAGREES,
                          "agrees when this run's sweet spot lies inside graph2nn's box")  # fmt: skip
        else:
            first = Claim(text1, paper1, ours, NOT_COMPARABLE, f"not at this scale: {setting}")
    else:
        first = Claim(text1, paper1, "n/a", NOT_COMPARABLE, spot.get("reason", "no sweet spot"))
    if isinstance(spot.get("complete_in_sweet_spot"), bool):
        beats = not spot["complete_in_sweet_spot"]
        ours = (
            f"{model}: best {_fmt(spot.get('best_error_mean'))} ± {_fmt(spot.get('best_error_std'))} % "
            f"vs complete {_fmt(spot.get('complete_error_mean'))} ± "
            f"{_fmt(spot.get('complete_error_std'))} % ({spot.get('complete_seeds')} seeds)"
        )
        if beats:
            verdict, why = (
                AGREES,
                "the complete graph is significantly worse than the best (one-sided t, 0.05)",
            )
        elif spot.get("complete_error_mean", math.inf) <= spot.get("best_error_mean", -math.inf):
            verdict, why = DISAGREES, "the complete graph has the lowest mean error"
        else:
            verdict, why = NOT_COMPARABLE, "the best graph's lead is not significant at these seeds"
        second = Claim(text2, paper2, ours, verdict, f"{why}; {setting}")
    else:
        second = Claim(text2, paper2, "n/a", NOT_COMPARABLE,
                       spot.get("reason", "the complete graph needs 2 seeds"))  # fmt: skip
    return [first, second]


def summarize(folder: Path):
    """The report section: graph2nn's claims with this run's numbers and verdicts, per model."""
    import pandas as pd

    try:
        spots = json.loads((folder / "sweet_spot.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        why = "no readable sweet_spot.json in this folder"
        return Summary([Claim(t, p, "n/a", NOT_COMPARABLE, why) for t, p in CLAIMS], None, [why])
    path = folder / "correlations.csv"
    corr = pd.read_csv(path) if path.is_file() else None
    found, rows = [], []
    for model, spot in spots.items():
        if not isinstance(spot, dict) or "graphs" not in spot or "alpha" not in spot:
            continue
        found += claims(spot)
        entry = {
            "model": model,
            "graphs": spot.get("graphs"),
            "complete error %": f"{_fmt(spot.get('complete_error_mean'))} ± {_fmt(spot.get('complete_error_std'))}",
            "best error %": f"{_fmt(spot.get('best_error_mean'))} ± {_fmt(spot.get('best_error_std'))}",
            "best (C, L)": f"({_fmt(spot.get('best_C'))}, {_fmt(spot.get('best_L'))})",
        }
        if corr is not None:
            for name in ("C", "L"):
                hit = corr[(corr["model"] == model) & (corr["property"] == name)]
                entry[f"r(error, {name}) (n)"] = (
                    f"{_fmt(hit['r'].iloc[0])} ({int(hit['n'].iloc[0])})" if len(hit) else "n/a"
                )
        rows.append(entry)
    notes = [
        "graph2nn's best is their third-lowest mean (their MLP's lowest had high variance); ours is "
        "the lowest; their std has ddof 0, ours ddof 1",
    ]
    return Summary(found, pd.DataFrame(rows) if rows else None, notes)
