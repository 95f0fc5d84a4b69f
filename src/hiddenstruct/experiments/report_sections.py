"""What the report says per experiment: each of the paper's claims next to this run's number
and a verdict computed from the data.

:data:`REPORT_SECTIONS` maps an experiment name to its :class:`SectionSpec` (heading, figure
and table order, and a ``summarize(folder) -> Summary`` function reading the experiment's
output files), in the paper's order §4.1 → §4.4, then the sparse-routes extension. A new
experiment adds one entry here.

A :class:`Claim`'s verdict is one of :data:`VERDICTS`: ``agrees`` / ``disagrees`` when this
run's numbers can be set against the paper's, ``not comparable`` with the reason when they
cannot (models at chance, a grid without the paper's level, too few graphs). Comparisons
within :data:`TOLERANCE` count as "the same" — our choice, the paper gives no tolerance.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

AGREES, DISAGREES, NOT_COMPARABLE = "agrees", "disagrees", "not comparable"
VERDICTS = (AGREES, DISAGREES, NOT_COMPARABLE)
#: Two accuracies within 5 points count as "nearly the same" / "near" (our choice).
TOLERANCE = 0.05
#: Margin a model must beat chance by for its numbers to count (as in the experiments).
CHANCE_MARGIN = 0.05


@dataclass
class Claim:
    """One claim of the paper: its number, this run's number, the verdict and why."""

    claim: str
    paper: str
    ours: str
    verdict: str
    reason: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


@dataclass
class Summary:
    """The paper's claims with verdicts, this run's key numbers (a small table) and notes."""

    claims: list[Claim] = field(default_factory=list)
    key_numbers: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def paper_claims(self) -> list[str]:
        """The claims' texts."""
        return [c.claim for c in self.claims]


@dataclass(frozen=True)
class SectionSpec:
    """One report section: heading, file order (glob patterns) and its summary function."""

    experiment: str
    heading: str
    figures: tuple[str, ...]
    tables: tuple[str, ...]
    summarize: Callable[[Path], Summary]


def _unknown(text: str, paper: str, why: str) -> Claim:
    """A claim this run has no number for: not comparable, and why."""
    return Claim(text, paper, "n/a", NOT_COMPARABLE, why)


def _missing(claims: list[tuple[str, str]], why: str) -> list[Claim]:
    return [_unknown(text, paper, why) for text, paper in claims]


def combine(verdicts: list[str]) -> str:
    """One verdict from parts: disagrees if any part does, agrees if every comparable part
    does, not comparable when none is comparable."""
    comparable = [v for v in verdicts if v != NOT_COMPARABLE]
    if not comparable:
        return NOT_COMPARABLE
    return DISAGREES if DISAGREES in comparable else AGREES


def _csv(folder: Path, name: str) -> pd.DataFrame | None:
    path = folder / name
    if path.is_symlink() or not path.is_file():  # a link is never read (issue 28)
        return None
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return None


def _pct(value) -> str:
    return "n/a" if value is None or not _finite(value) else f"{100 * value:.1f} %"


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# ---- §4.1 prune-ffn ---------------------------------------------------------------------------
FFN_CLAIMS = [
    ("Magnitude class-blinded pruning clearly outperforms the other methods.",
     "class-blinded best at 90 % removed"),
    ("Optimal Brain Damage performs nearly the same as class-blinded.",
     "OBD ≈ class-blinded at 90 %"),
    ("Random pruning drops immediately; the other four stay near the unpruned accuracy "
     "for over 60 % compression (§5).", "at 60 %: random drops, the others stay"),
]  # fmt: skip
FFN_CHANCE = 0.1  # 10 balanced classes (MNIST, digits)


def summarize_prune_ffn(folder: Path) -> Summary:
    """Best method at 90 % removed and the accuracies the paper's claims are about, with
    verdicts over the settings whose unpruned models beat chance."""
    table = _csv(folder, "table.csv")
    if table is None or "acc@90%" not in table:
        why = "no table.csv with acc@90% in this folder"
        return Summary(_missing(FFN_CLAIMS, why), None, [why])
    rows, best, gaps, drops = [], [], [], []
    for (arch, schedule, retrain), part in table.groupby(["architecture", "schedule", "retrain"]):
        by = part.set_index("method")
        unpruned = float(by["unpruned"].mean())
        learned = unpruned > FFN_CHANCE + CHANCE_MARGIN
        at90 = by["acc@90%"].dropna()
        at60 = by.get("acc@60%", pd.Series(dtype=float)).dropna()
        others = at60.drop(labels=["random"], errors="ignore")
        setting = f"{arch} · {schedule} · {'with' if retrain else 'without'} retraining"
        winner = at90.idxmax() if len(at90) else "n/a"
        rows.append(
            {
                "setting": setting,
                "unpruned": _pct(unpruned) + ("" if learned else " (at chance)"),
                "best at 90 %": winner,
                "class-blinded @90 %": _pct(at90.get("class_blinded")),
                "OBD @90 %": _pct(at90.get("obd")),
                "random @60 %": _pct(at60.get("random")),
                "worst non-random @60 %": _pct(others.min() if len(others) else None),
            }
        )
        if not learned:
            continue
        if len(at90):
            best.append((setting, winner))
        if {"class_blinded", "obd"} <= set(at90.index):
            gaps.append(abs(at90["class_blinded"] - at90["obd"]))
        if "random" in at60 and len(others):
            drops.append((unpruned - at60["random"], unpruned - others.min()))
    skipped = len(rows) - sum(1 for r in rows if "(at chance)" not in r["unpruned"])
    at_chance = f"; {skipped} setting(s) at chance left out" if skipped else ""
    claims = []
    text, paper = FFN_CLAIMS[0]
    if best:
        wins = sum(1 for _, w in best if w == "class_blinded")
        others = sorted({w for _, w in best if w != "class_blinded"})
        ours = f"class-blinded best in {wins} of {len(best)} settings" + (
            f" (others best: {', '.join(others)})" if others else ""
        )
        verdict = AGREES if wins == len(best) else DISAGREES
        claims.append(Claim(text, paper, ours + at_chance, verdict))
    else:
        claims.append(_unknown(text, paper, "no setting beats chance" + at_chance))
    text, paper = FFN_CLAIMS[1]
    if gaps:
        worst = max(gaps)
        verdict = AGREES if worst <= TOLERANCE else DISAGREES
        ours = (
            f"largest |class-blinded − OBD| at 90 %: {100 * worst:.1f} pt over {len(gaps)} settings"
        )
        claims.append(Claim(text, f"within {100 * TOLERANCE:.0f} pt", ours, verdict))
    else:
        claims.append(
            _unknown(text, paper, "no OBD and class-blinded results at 90 % above chance")
        )
    text, paper = FFN_CLAIMS[2]
    if drops:
        random_drop = min(d for d, _ in drops)
        other_drop = max(o for _, o in drops)
        verdict = AGREES if random_drop > TOLERANCE and other_drop <= TOLERANCE else DISAGREES
        ours = (
            f"at 60 %: random drops at least {100 * random_drop:.1f} pt, the others at most "
            f"{100 * other_drop:.1f} pt below unpruned"
        )
        claims.append(
            Claim(
                text,
                f"drop > {100 * TOLERANCE:.0f} pt vs ≤ {100 * TOLERANCE:.0f} pt",
                ours,
                verdict,
            )
        )
    else:
        claims.append(
            _unknown(text, paper, "no 60 % results above chance for random and the others")
        )
    return Summary(claims, pd.DataFrame(rows))


# ---- §4.2 prune-rnn ---------------------------------------------------------------------------
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
    if not _finite(ours):
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
    summary = _csv(folder, "summary.csv")
    if summary is None or "tolerated_p" not in summary:
        why = "no summary.csv in this folder"
        return Summary(_missing(RNN_CLAIMS, why), None, [why])
    grid = sorted(
        float(c.split("@")[1].rstrip("%")) / 100 for c in summary.columns if c.startswith("epochs@")
    )
    rows, safe, base_verdicts, recover = [], [], {}, []
    for _, r in summary.iterrows():
        key = (r["scope"], r["mode"])
        paper = PAPER_SAFE_P.get(key)
        learned = _finite(r["tolerated_p"])
        verdict, why = (
            safe_p_verdict(r["tolerated_p"], paper, grid) if paper is not None
            else (NOT_COMPARABLE, "no paper value")
        )  # fmt: skip
        safe.append(verdict)
        rows.append(
            {
                "mode": r["mode"],
                "scope": r["scope"],
                "base accuracy": _pct(r["base_accuracy"]) + ("" if learned else " (at chance)"),
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
        ours = ", ".join(f"{m} {_pct(a)}" for m, (a, _) in sorted(base_verdicts.items()))
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
        claims.append(_unknown(text, paper, "no base model beats chance"))
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
        claims.append(_unknown(text, paper, why))
    notes = [
        "safely pruned: largest p whose accuracy right after pruning stays within the tolerance "
        "of the base model; agrees when the paper's p lies between it and the next level of "
        "this run's grid"
    ]
    return Summary(claims, pd.DataFrame(rows), notes)


# ---- §4.3 priors-rnn --------------------------------------------------------------------------
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
PRIORS_CHANCE = 0.5
R2_TOLERANCE = 0.15  # our choice
PRIORS_CLAIMS = [
    ("WS and BA priors perform equally with RNN_Tanh and RNN_ReLU; BA is better with LSTM and GRU.",
     "equal / equal / BA better / BA better"),
    ("Best R² from graph properties: RNN_Tanh 0.48 (BR), RNN_ReLU 0.62 (RF), LSTM 0.60 (AB), "
     "GRU 0.88 (RF).", "0.48 / 0.62 / 0.60 / 0.88"),
]  # fmt: skip


def family_verdict(mode: str, ws, ba) -> tuple[str, str, str]:
    """(ours, verdict, reason) of BA vs WS test accuracies in one mode (Welch's t-test, 5 %)."""
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
    families = _csv(folder, "family_summary.csv")
    if families is None:
        why = "no family_summary.csv in this folder"
        return Summary(_missing(PRIORS_CLAIMS, why), None, [why])
    meta = _csv(folder, "meta_dataset.csv")
    means = families.pivot_table(index="mode", columns="family", values="test_acc_mean")
    counts = _csv(folder, "table1_counts.csv")
    used = {} if counts is None else dict(zip(counts["mode"], counts["used"], strict=True))
    r2 = _csv(folder, "r2.csv")
    rows, family_parts, r2_parts = [], [], []
    for mode, row in means.iterrows():
        ws, ba = row.get("watts_strogatz", math.nan), row.get("barabasi_albert", math.nan)
        entry = {
            "mode": mode,
            "WS mean": _pct(ws),
            "BA mean": _pct(ba),
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
        claims.append(_unknown(text, paper, "no meta_dataset.csv with test_acc"))
    text, paper = PRIORS_CLAIMS[1]
    if r2_parts:
        ours = ", ".join(f"{m} {o}" for m, o, _ in r2_parts)
        verdict = combine([v for _, _, v in r2_parts])
        why = f"within {R2_TOLERANCE} counts as the same"
        if verdict == NOT_COMPARABLE:
            why = "no R²: fewer than 6 models above chance per mode"
        claims.append(Claim(text, paper, ours, verdict, why))
    else:
        claims.append(_unknown(text, paper, "no mode of the paper in this run"))
    notes = [
        "models at chance are left out of Table 1, the R² and the importances "
        "(table1_counts.csv); R² on one held-out split (r2.csv has the cross-validated values)"
    ]
    return Summary(claims, pd.DataFrame(rows), notes)


# ---- §4.4 nas ---------------------------------------------------------------------------------
NAS_CLAIMS = [
    ("Prediction-accelerated NAS: the paper cites a 1.69× speed-up from performance prediction "
     "(Wendlinger et al. [42]); it reports no speed-up of its own.", "1.69× (cited)"),
]  # fmt: skip
NAS_CHANCE = 0.1  # 10 balanced classes (CIFAR-10, digits)


def summarize_nas(folder: Path) -> Summary:
    """Best validation accuracy, time and trained/estimated counts per search; the time the
    search with prediction took to reach the unaccelerated search's best accuracy."""
    from hiddenstruct.experiments.plots.nas import reach_summary, reach_text

    path = folder / "summary.json"
    try:
        if path.is_symlink():  # a link is never read (issue 28)
            raise OSError(f"{path} is a symbolic link")
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        why = "no readable summary.json in this folder"
        return Summary(_missing(NAS_CLAIMS, why), None, [why])
    rows = [
        {
            "search": name,
            "best val accuracy": _pct(s.get("best_val_accuracy")),
            "search seconds": f"{s.get('search_seconds', math.nan):.1f}",
            "trained": s.get("measured"),
            "estimated": s.get("estimated"),
        }
        for name, s in summary.items()
        if isinstance(s, dict) and "best_val_accuracy" in s
    ]
    generations = _csv(folder, "generations.csv")
    reach = summary.get("time_to_reach") if isinstance(summary.get("time_to_reach"), dict) else None
    if generations is not None and {"search", "elapsed", "best_measured"} <= set(generations):
        reach = reach_summary(generations)
    text, paper = NAS_CLAIMS[0]
    if not reach:
        claim = _unknown(text, paper, "needs both genetic searches' generations")
    elif reach["target"] <= NAS_CHANCE + CHANCE_MARGIN:
        claim = Claim(text, paper, reach_text(reach), NOT_COMPARABLE,
                      "the unaccelerated search's best does not beat chance")  # fmt: skip
    elif not _finite(reach["seconds_with"]):
        claim = Claim(text, paper, reach_text(reach), DISAGREES,
                      "the search with prediction never reached the unaccelerated best accuracy")  # fmt: skip
    else:
        faster = reach["speedup"] > 1.0
        claim = Claim(text, paper, reach_text(reach), AGREES if faster else DISAGREES,
                      "agrees when prediction reaches the same accuracy sooner")  # fmt: skip
    notes = []
    meta = _csv(folder, "meta_dataset.csv")
    if meta is not None:
        excluded = int((~meta["above_chance"].astype(bool)).sum()) if "above_chance" in meta else 0
        notes.append(
            f"meta-dataset: {len(meta)} measured candidates; {excluded} at chance left out of "
            f"the correlations, importances and predictor scores (paper: 2 472 candidates × 56 "
            "features, split 70/30)"
        )
    return Summary([claim], pd.DataFrame(rows), notes)


# ---- sparse-routes (our extension, issue 15) --------------------------------------------------
def summarize_sparse_routes(folder: Path) -> Summary:
    """Accuracy per route (and density) per model, with the trials at chance flagged; the
    paper has no such experiment, so there are no claims to check."""
    from hiddenstruct.experiments.sparse_routes_outputs import MODEL_CHANCE

    table = _csv(folder, "accuracy.csv")
    notes = [
        "The paper has no routes-to-sparsity experiment (this is hiddenstruct's extension, "
        "docs/sparse-training.md): no claims to check. Models at chance are left out of "
        "correlations.csv (its n column)."
    ]
    if table is None or not {"model", "route", "density", "accuracy_mean"} <= set(table):
        return Summary([], None, [*notes, "no accuracy.csv in this folder"])
    rows = []
    for _, r in table.iterrows():
        chance = MODEL_CHANCE.get(r["model"], math.nan)
        learned = _finite(r["accuracy_mean"]) and r["accuracy_mean"] > chance + CHANCE_MARGIN
        std = r.get("accuracy_std", math.nan)
        rows.append(
            {
                "model": r["model"],
                "route": r["route"],
                "density": f"{r['density']:g}",
                "test accuracy": _pct(r["accuracy_mean"])
                + (f" ± {100 * std:.1f}" if _finite(std) else ""),
                "n": r.get("n", "n/a"),
                "chance": _pct(chance),
                "learns": "yes" if learned else "no (at chance)",
            }
        )
    low = sum(r["learns"] != "yes" for r in rows)
    if low:
        notes.append(f"{low} of {len(rows)} (model, route, density) groups do not beat chance")
    return Summary([], pd.DataFrame(rows), notes)


REPORT_SECTIONS: dict[str, SectionSpec] = {
    "prune-ffn": SectionSpec(
        "prune-ffn", "§4.1 Pruning feed-forward networks",
        ("figure2a_*",), ("table.csv", "curves.csv"), summarize_prune_ffn,
    ),
    "prune-rnn": SectionSpec(
        "prune-rnn", "§4.2 Pruning recurrent networks",
        ("figure2b_*", "figure5a_*", "figure5b_*"), ("summary.csv", "points.csv"), summarize_prune_rnn,
    ),
    "priors-rnn": SectionSpec(
        "priors-rnn", "§4.3 Random structural priors for recurrent networks",
        ("figure7*", "table1_*"), ("family_summary.csv", "table1_counts.csv",
                                    "table1_correlations.csv", "r2.csv",
                                    "importances.csv", "meta_dataset.csv"), summarize_priors,
    ),
    "nas": SectionSpec(
        "nas", "§4.4 Architectural performance prediction in NAS",
        ("best_accuracy_over_time*", "figure8b_*", "best_genotype*"),
        ("feature_importances.csv", "generations.csv", "candidates.csv", "meta_dataset.csv"),
        summarize_nas,
    ),
    "sparse-routes": SectionSpec(
        "sparse-routes", "Routes to sparse structure (hiddenstruct's extension)",
        ("accuracy_*", "trajectory_*"), ("accuracy.csv", "correlations.csv", "properties.csv",
                                         "results.csv"), summarize_sparse_routes,
    ),
    "relational-graphs": SectionSpec(
        "relational-graphs", "Relational graphs (graph2nn's study)",
        ("heatmap_CL_*", "error_vs_C_*", "error_vs_L_*", "coverage_*"),
        ("graphs.csv", "correlations.csv", "r2.csv"),
        lambda folder: _relational_summary(folder),
    ),
}  # fmt: skip


def _relational_summary(folder: Path) -> Summary:
    from hiddenstruct.experiments.relational_graphs_outputs import summarize

    return summarize(folder)


# Output folders whose trials are stored under another experiment name.
FOLDER_EXPERIMENTS = {"reber-rnn": "demo-reber-rnn"}
