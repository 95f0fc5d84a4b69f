"""The report section of nas (paper §4.4): the paper's claims next to this run's numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

from hiddenstruct.experiments.report_sections import (
    AGREES,
    DISAGREES,
    NOT_COMPARABLE,
    Claim,
    SectionSpec,
    Summary,
    finite,
    missing_claims,
    percent,
    read_csv,
    unknown_claim,
)
from hiddenstruct.stats import CHANCE_MARGIN

NAS_CLAIMS = [
    ("Prediction-accelerated NAS: the paper cites a 1.69× speed-up from performance prediction "
     "(Wendlinger et al. [42]); it reports no speed-up of its own.", "1.69× (cited)"),
]  # fmt: skip
NAS_CHANCE = 0.1  # 10 balanced classes (CIFAR-10, digits)


def summarize_nas(folder: Path) -> Summary:
    """Best validation accuracy, time and trained/estimated counts per search; the time the
    search with prediction took to reach the unaccelerated search's best accuracy."""
    import pandas as pd

    from hiddenstruct.experiments.nas.figures import reach_summary, reach_text

    path = folder / "summary.json"
    try:
        if path.is_symlink():  # a link is never read (docs/reliability.md)
            raise OSError(f"{path} is a symbolic link")
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        why = "no readable summary.json in this folder"
        return Summary(missing_claims(NAS_CLAIMS, why), None, [why])
    rows = [
        {
            "search": name,
            "best val accuracy": percent(s.get("best_val_accuracy")),
            "search seconds": f"{s.get('search_seconds', math.nan):.1f}",
            "trained": s.get("measured"),
            "estimated": s.get("estimated"),
        }
        for name, s in summary.items()
        if isinstance(s, dict) and "best_val_accuracy" in s
    ]
    generations = read_csv(folder, "generations.csv")
    reach = summary.get("time_to_reach") if isinstance(summary.get("time_to_reach"), dict) else None
    if generations is not None and {"search", "elapsed", "best_measured"} <= set(generations):
        reach = reach_summary(generations)
    text, paper = NAS_CLAIMS[0]
    if not reach:
        claim = unknown_claim(text, paper, "needs both genetic searches' generations")
    elif reach["target"] <= NAS_CHANCE + CHANCE_MARGIN:
        claim = Claim(text, paper, reach_text(reach), NOT_COMPARABLE,
                      "the unaccelerated search's best does not beat chance")  # fmt: skip
    elif not finite(reach["seconds_with"]):
        claim = Claim(text, paper, reach_text(reach), DISAGREES,
                      "the search with prediction never reached the unaccelerated best accuracy")  # fmt: skip
    else:
        faster = reach["speedup"] > 1.0
        claim = Claim(text, paper, reach_text(reach), AGREES if faster else DISAGREES,
                      "agrees when prediction reaches the same accuracy sooner")  # fmt: skip
    notes = []
    meta = read_csv(folder, "meta_dataset.csv")
    if meta is not None:
        excluded = int((~meta["above_chance"].astype(bool)).sum()) if "above_chance" in meta else 0
        notes.append(
            f"meta-dataset: {len(meta)} measured candidates; {excluded} at chance left out of "
            f"the correlations, importances and predictor scores (paper: 2 472 candidates × 56 "
            "features, split 70/30)"
        )
    return Summary([claim], pd.DataFrame(rows), notes)


SECTION = SectionSpec(
    "nas", "§4.4 Architectural performance prediction in NAS",
    ("best_accuracy_over_time*", "figure8b_*", "best_genotype*"),
    ("feature_importances.csv", "generations.csv", "candidates.csv", "meta_dataset.csv"),
    summarize_nas,
)  # fmt: skip
