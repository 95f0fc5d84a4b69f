"""The report section of priors-rnn (paper §4.3): the paper's claims next to this run's numbers."""

from __future__ import annotations

import math
from pathlib import Path

from hiddenstruct.experiments.priors_rnn.outputs import PRIORS_CHANCE
from hiddenstruct.experiments.report_sections import (
    AGREES,
    DISAGREES,
    NOT_COMPARABLE,
    Claim,
    SectionSpec,
    Summary,
    combine,
    missing_claims,
    percent,
    read_csv,
    unknown_claim,
)
from hiddenstruct.stats import CHANCE_MARGIN

# Best regressor and R² per mode as stated in §4.3.
PAPER_BEST_R2 = {
    "RNN_TANH": ("BayesianRidge", 0.47919),
    "RNN_RELU": ("RandomForest", 0.61504),
    "LSTM": ("AdaBoost", 0.59514),
    "GRU": ("RandomForest", 0.87635),
}
#: What the paper says about BA − WS per mode (§4.3, Figure 7).
PAPER_FAMILY = {"RNN_TANH": "equal", "RNN_RELU": "equal", "LSTM": "BA better", "GRU": "BA better"}
#: Fewer graphs per family than this cannot show that two families perform "equally".
MIN_GRAPHS_EQUAL = 10
R2_TOLERANCE = 0.15  # our choice
PRIORS_CLAIMS = [
    ("WS and BA priors perform equally with RNN_Tanh and RNN_ReLU; BA is better with LSTM and GRU.",
     "equal / equal / BA better / BA better"),
    ("Best R² from graph properties: RNN_Tanh 0.48 (BR), RNN_ReLU 0.62 (RF), LSTM 0.60 (AB), "
     "GRU 0.88 (RF).", "0.48 / 0.62 / 0.60 / 0.88"),
]  # fmt: skip


def family_verdict(mode: str, ws, ba) -> tuple[str, str, str]:
    """(ours, verdict, reason) of BA vs WS test accuracies in one mode (Welch's t-test, 5 %)."""
    import pandas as pd
    from scipy import stats as scipy_stats

    ws, ba = pd.Series(ws, dtype=float).dropna(), pd.Series(ba, dtype=float).dropna()
    expected = PAPER_FAMILY.get(mode)
    n = f"n = {len(ws)} WS + {len(ba)} BA"
    if expected is None:
        return "n/a", NOT_COMPARABLE, "no paper statement for this mode"
    low = {
        name: int((values <= PRIORS_CHANCE + CHANCE_MARGIN).sum())
        for name, values in (("WS", ws), ("BA", ba))
    }
    at_chance = [name for name, values in (("WS", ws), ("BA", ba)) if low[name] == len(values)]
    if at_chance:
        return (
            f"every {' and '.join(at_chance)} model at chance ({n})", NOT_COMPARABLE,
            f"{' and '.join(at_chance)} did not learn at this scale",
        )  # fmt: skip
    if len(ws) < 2 or len(ba) < 2:
        return n, NOT_COMPARABLE, "fewer than 2 graphs per family"
    diff = ba.mean() - ws.mean()
    pvalue = float(scipy_stats.ttest_ind(ba, ws, equal_var=False).pvalue)
    found = ("BA better" if diff > 0 else "WS better") if pvalue < 0.05 else "equal"
    ours = f"BA − WS {100 * diff:+.1f} pt (Welch p = {pvalue:.2g}, {n}): {found}"
    if math.isnan(pvalue):
        return ours, NOT_COMPARABLE, "both families constant"
    if found == "equal" and expected == "equal" and min(len(ws), len(ba)) < MIN_GRAPHS_EQUAL:
        return (
            ours,
            NOT_COMPARABLE,
            f"fewer than {MIN_GRAPHS_EQUAL} graphs per family cannot show equality",
        )
    return ours, AGREES if found == expected else DISAGREES, ""


def summarize_priors(folder: Path) -> Summary:
    """Mean accuracy per family (BA − WS, tested) and the best R² per mode, next to the paper's."""
    import pandas as pd

    families = read_csv(folder, "family_summary.csv")
    if families is None:
        why = "no family_summary.csv in this folder"
        return Summary(missing_claims(PRIORS_CLAIMS, why), None, [why])
    meta = read_csv(folder, "meta_dataset.csv")
    means = families.pivot_table(index="mode", columns="family", values="test_acc_mean")
    counts = read_csv(folder, "table1_counts.csv")
    used = {} if counts is None else dict(zip(counts["mode"], counts["used"], strict=True))
    r2 = read_csv(folder, "r2.csv")
    rows, family_parts, r2_parts = [], [], []
    for mode, row in means.iterrows():
        ws, ba = row.get("watts_strogatz", math.nan), row.get("barabasi_albert", math.nan)
        entry = {
            "mode": mode,
            "WS mean": percent(ws),
            "BA mean": percent(ba),
            "BA − WS": "n/a" if math.isnan(ba - ws) else f"{100 * (ba - ws):+.1f} pt",
        }
        if meta is not None and {"family", "test_acc"} <= set(meta):
            part = meta[meta["mode"] == mode]
            ours, verdict, why = family_verdict(
                mode, part.loc[part["family"] == "watts_strogatz", "test_acc"],
                part.loc[part["family"] == "barabasi_albert", "test_acc"],
            )  # fmt: skip
            family_parts.append((mode, ours, verdict, why))
        entry["models above chance"] = used.get(mode, "n/a")
        best = None
        if r2 is not None and "group" in r2:
            part = r2[r2["group"] == mode].dropna(subset=["split_r2"])
            best = part.loc[part["split_r2"].idxmax()] if len(part) else None
        entry["best R² (this run)"] = (
            "n/a (too few models above chance)" if best is None
            else f"{best['split_r2']:.2f} ({best['regressor']})"
        )  # fmt: skip
        name, value = PAPER_BEST_R2.get(mode, ("", math.nan))
        entry["best R² (paper)"] = f"{value:.2f} ({name})" if name else "n/a"
        if name:
            if best is None:
                r2_parts.append((mode, "n/a", NOT_COMPARABLE))
            else:
                close = abs(best["split_r2"] - value) <= R2_TOLERANCE
                r2_parts.append((mode, f"{best['split_r2']:.2f}", AGREES if close else DISAGREES))
        rows.append(entry)
    claims = []
    text, paper = PRIORS_CLAIMS[0]
    if family_parts:
        ours = "; ".join(f"{m}: {o}" for m, o, _, _ in family_parts)
        whys = "; ".join(f"{m}: {w}" for m, _, _, w in family_parts if w)
        claims.append(Claim(text, paper, ours, combine([v for _, _, v, _ in family_parts]), whys))
    else:
        claims.append(unknown_claim(text, paper, "no meta_dataset.csv with test_acc"))
    text, paper = PRIORS_CLAIMS[1]
    if r2_parts:
        ours = ", ".join(f"{m} {o}" for m, o, _ in r2_parts)
        verdict = combine([v for _, _, v in r2_parts])
        why = f"within {R2_TOLERANCE} counts as the same"
        if verdict == NOT_COMPARABLE:
            why = "no R²: fewer than 6 models above chance per mode"
        claims.append(Claim(text, paper, ours, verdict, why))
    else:
        claims.append(unknown_claim(text, paper, "no mode of the paper in this run"))
    notes = [
        "models at chance are left out of Table 1, the R² and the importances "
        "(table1_counts.csv); R² on one held-out split (r2.csv has the cross-validated values)"
    ]
    return Summary(claims, pd.DataFrame(rows), notes)


SECTION = SectionSpec(
    "priors-rnn", "§4.3 Random structural priors for recurrent networks",
    ("figure7*", "table1_*"), ("family_summary.csv", "table1_counts.csv",
                                "table1_correlations.csv", "r2.csv",
                                "importances.csv", "meta_dataset.csv"), summarize_priors,
)  # fmt: skip
