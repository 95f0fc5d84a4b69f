"""The report section of prune-rnn (paper §4.2): the paper's claims next to this run's numbers."""

from __future__ import annotations

import math
from pathlib import Path

from hiddenstruct.experiments.report_sections import (
    AGREES,
    DISAGREES,
    NOT_COMPARABLE,
    TOLERANCE,
    Claim,
    SectionSpec,
    Summary,
    combine,
    finite,
    missing_claims,
    percent,
    read_csv,
    unknown_claim,
)

# Safely pruned fraction p per (scope, mode) as stated in §4.2.
PAPER_SAFE_P = {
    ("both", "RNN_TANH"): 0.8, ("both", "RNN_RELU"): 0.7, ("both", "LSTM"): 0.6, ("both", "GRU"): 0.8,
    ("i2h", "RNN_TANH"): 0.7, ("i2h", "RNN_RELU"): 0.7, ("i2h", "LSTM"): 0.7, ("i2h", "GRU"): 0.8,
    ("h2h", "RNN_TANH"): 0.8, ("h2h", "RNN_RELU"): 0.7, ("h2h", "LSTM"): 0.7, ("h2h", "GRU"): 0.8,
}  # fmt: skip
# Base test accuracy per mode as stated in §4.2.
PAPER_BASE = {"RNN_TANH": 0.9, "RNN_RELU": 1.0, "LSTM": 1.0, "GRU": 1.0}
RNN_CLAIMS = [
    ("Base models: RNN_ReLU, LSTM and GRU reach 100 % test accuracy; RNN_Tanh 90 %.",
     "100 % / 90 %"),
    ("Safely pruned (both): RNN_Tanh 80 %, RNN_ReLU 70 %, LSTM 60 %, GRU 80 %; "
     "i2h: 70 % (GRU 80 %); h2h: RNN_ReLU/LSTM 70 %, RNN_Tanh/GRU 80 %.", "60–80 %"),
    ("One retraining epoch recovers up to 90 % pruning (RNN_Tanh i2h: two); 100 % never "
     "recovers, except h2h for LSTM and GRU.", "1 epoch at 90 %"),
]  # fmt: skip


def safe_p_verdict(ours: float, paper: float, grid: list[float]) -> tuple[str, str]:
    """Whether this run's largest safe p on ``grid`` is consistent with the paper's: the
    paper's p lies at or above ours and below the next grid level (which failed)."""
    if not finite(ours):
        return NOT_COMPARABLE, "no base model beats chance"
    above = [p for p in grid if p > ours + 1e-9]
    upper = above[0] if above else math.inf
    if ours - 1e-9 <= paper < upper:
        return AGREES, ""
    level = "" if paper in grid else f"; {100 * paper:.0f} % is not on this run's grid"
    return DISAGREES, f"{100 * paper:.0f} % outside [{100 * ours:.0f} %, next level){level}"


def _epochs(value) -> float | None:
    """Retraining epochs to recover from a summary.csv cell: empty = 0 (the level was safe
    without retraining), ``">k"`` = None (not recovered within k epochs)."""
    if isinstance(value, str):
        value = value.strip()
        if value.startswith(">"):
            return None
        if not value:
            return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return 0.0 if math.isnan(number) else number


def summarize_prune_rnn(folder: Path) -> Summary:
    """Largest p pruned without an accuracy drop per (mode, scope), next to the paper's, with
    verdicts (rows whose base models are all at chance are not comparable)."""
    import pandas as pd

    summary = read_csv(folder, "summary.csv")
    if summary is None or "tolerated_p" not in summary:
        why = "no summary.csv in this folder"
        return Summary(missing_claims(RNN_CLAIMS, why), None, [why])
    grid = sorted(
        float(c.split("@")[1].rstrip("%")) / 100 for c in summary.columns if c.startswith("epochs@")
    )
    rows, safe, base_verdicts, recover = [], [], {}, []
    for _, r in summary.iterrows():
        key = (r["scope"], r["mode"])
        paper = PAPER_SAFE_P.get(key)
        learned = finite(r["tolerated_p"])
        verdict, why = (
            safe_p_verdict(r["tolerated_p"], paper, grid) if paper is not None
            else (NOT_COMPARABLE, "no paper value")
        )  # fmt: skip
        safe.append(verdict)
        rows.append(
            {
                "mode": r["mode"],
                "scope": r["scope"],
                "base accuracy": percent(r["base_accuracy"]) + ("" if learned else " (at chance)"),
                "safely pruned (this run)": f"{100 * r['tolerated_p']:.0f} %" if learned else "n/a",
                "safely pruned (paper)": f"{100 * paper:.0f} %" if paper is not None else "n/a",
                "verdict": verdict,
            }
        )
        if learned and r["mode"] in PAPER_BASE:
            ok = abs(r["base_accuracy"] - PAPER_BASE[r["mode"]]) <= TOLERANCE
            base_verdicts[r["mode"]] = (r["base_accuracy"], AGREES if ok else DISAGREES)
        column = "epochs@90%"
        if learned and column in summary:
            cap = 2 if key == ("i2h", "RNN_TANH") else 1
            epochs = _epochs(r[column])  # None: not recovered within the epochs run (">k")
            recover.append(AGREES if epochs is not None and epochs <= cap else DISAGREES)
    claims = []
    text, paper = RNN_CLAIMS[0]
    if base_verdicts:
        ours = ", ".join(f"{m} {percent(a)}" for m, (a, _) in sorted(base_verdicts.items()))
        claims.append(
            Claim(
                text,
                paper,
                ours,
                combine([v for _, v in base_verdicts.values()]),
                f"within {100 * TOLERANCE:.0f} pt counts as the same",
            )
        )
    else:
        claims.append(unknown_claim(text, paper, "no base model beats chance"))
    text, paper = RNN_CLAIMS[1]
    agree = sum(v == AGREES for v in safe)
    comparable = sum(v != NOT_COMPARABLE for v in safe)
    grid_text = ", ".join(f"{100 * p:.0f}" for p in grid) + " %" if grid else "unknown"
    claims.append(
        Claim(text, paper, f"consistent in {agree} of {comparable} comparable (mode, scope)",
              combine(safe), f"this run's grid: {grid_text}; see the table")
    )  # fmt: skip
    text, paper = RNN_CLAIMS[2]
    if recover:
        ours = f"recovered within the paper's epochs at 90 % in {recover.count(AGREES)} of {len(recover)}"
        claims.append(Claim(text, paper, ours, combine(recover), "the 100 % part is not checked"))
    else:
        why = "90 % is not on this run's grid" if 0.9 not in grid else "no base model beats chance"
        claims.append(unknown_claim(text, paper, why))
    notes = [
        "safely pruned: largest p whose accuracy right after pruning stays within the tolerance "
        "of the base model; agrees when the paper's p lies between it and the next level of "
        "this run's grid"
    ]
    return Summary(claims, pd.DataFrame(rows), notes)


SECTION = SectionSpec(
    "prune-rnn", "§4.2 Pruning recurrent networks",
    ("figure2b_*", "figure5a_*", "figure5b_*"), ("summary.csv", "points.csv"), summarize_prune_rnn,
)  # fmt: skip
