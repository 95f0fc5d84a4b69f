"""The report section of prune-ffn (paper §4.1): the paper's claims next to this run's numbers."""

from __future__ import annotations

from pathlib import Path

from hiddenstruct.experiments.report_sections import (
    AGREES,
    DISAGREES,
    TOLERANCE,
    Claim,
    SectionSpec,
    Summary,
    missing_claims,
    percent,
    read_csv,
    unknown_claim,
)
from hiddenstruct.stats import CHANCE_MARGIN

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
    import pandas as pd

    table = read_csv(folder, "table.csv")
    if table is None or "acc@90%" not in table:
        why = "no table.csv with acc@90% in this folder"
        return Summary(missing_claims(FFN_CLAIMS, why), None, [why])
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
                "unpruned": percent(unpruned) + ("" if learned else " (at chance)"),
                "best at 90 %": winner,
                "class-blinded @90 %": percent(at90.get("class_blinded")),
                "OBD @90 %": percent(at90.get("obd")),
                "random @60 %": percent(at60.get("random")),
                "worst non-random @60 %": percent(others.min() if len(others) else None),
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
        claims.append(unknown_claim(text, paper, "no setting beats chance" + at_chance))
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
            unknown_claim(text, paper, "no OBD and class-blinded results at 90 % above chance")
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
            unknown_claim(text, paper, "no 60 % results above chance for random and the others")
        )
    return Summary(claims, pd.DataFrame(rows))


SECTION = SectionSpec(
    "prune-ffn", "§4.1 Pruning feed-forward networks",
    ("figure2a_*",), ("table.csv", "curves.csv"), summarize_prune_ffn,
)  # fmt: skip
