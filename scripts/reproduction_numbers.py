"""Print the numbers of docs/reproduction.md from the output folders of the paper-setting runs.

Every number in the reproduction report's "ours" columns is read from an experiment's own
output files by this script, so a re-run of the commands in docs/reproduction.md followed by
this script regenerates the tables (nothing is typed in by hand)::

    python scripts/reproduction_numbers.py \
        --prune-ffn runs/prune-ffn \
        --prune-rnn authors-global=runs/prune-rnn-authors-global hard-global=runs/... \
        --priors classic=runs/priors-classic star=runs/priors-star \
        --nas digits=runs/nas-digits cifar10=runs/nas-cifar10

Missing folders are reported and skipped. Spread is the sample standard deviation (ddof 1)
over repeats; with one repeat it is undefined and printed as "n=1".
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import pandas as pd


def mean_std(values) -> str:
    values = [float(v) for v in values if v == v]
    if not values:
        return "NaN (no value)"
    if len(values) == 1:
        return f"{values[0]:.4f} (n=1)"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f} (n={len(values)})"


def _cell(value, column: str) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "" if column == "notes" else "NaN"
    return str(value)


def table(rows: list[dict], columns: list[str]) -> str:
    """A markdown table; NaN prints as NaN (an empty ``notes`` cell stays empty)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r.get(c, ""), c) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ prune-ffn
def prune_ffn(folder: Path, at: tuple[float, ...] = (0.6, 0.8, 0.9)) -> str:
    curves = pd.read_csv(folder / "curves.csv")
    rows = []
    keys = ["architecture", "schedule", "method", "retrain"]
    for group, part in curves.groupby(keys):
        row = dict(zip(keys, group, strict=True))
        base = part[part.step == 0].groupby("repeat").accuracy.first()
        row["unpruned"] = mean_std(base)
        for p in at:
            # the first step at or beyond p removed, per repeat (relative steps rarely hit p)
            hits = _first_at(part, p)
            fractions = [f for f, _ in hits.values()]
            label = f"acc@{int(p * 100)}%"
            where = f" [at {min(fractions):.3f}]" if fractions and min(fractions) > p + 1e-6 else ""
            row[label] = mean_std([acc for _, acc in hits.values()]) + where
        best = part[part.step > 0].groupby("repeat").accuracy.max()
        row["best pruned"] = mean_std(best)
        rows.append(row)
    columns = [*keys, "unpruned", *(f"acc@{int(p * 100)}%" for p in at), "best pruned"]
    return table(rows, columns) + "\n\n" + _versus_class_blinded(curves, 0.8)


def _first_at(part: pd.DataFrame, p: float) -> dict[int, tuple[float, float]]:
    """(zero fraction, accuracy) of the first step at or beyond ``p`` removed, per repeat."""
    out = {}
    for repeat, rep in part.groupby("repeat"):
        beyond = rep[rep.zero_fraction >= p - 1e-9].sort_values("zero_fraction")
        if len(beyond):
            out[int(repeat)] = (float(beyond.zero_fraction.iloc[0]), float(beyond.accuracy.iloc[0]))
    return out


def _versus_class_blinded(curves: pd.DataFrame, p: float) -> str:
    """Each method minus class-blinded at ``p`` removed, paired by repeat (the repeats share
    their base model), with the paired t-test's two-sided p-value (NaN below 2 pairs)."""
    from scipy.stats import ttest_rel

    rows = []
    keys = ["architecture", "schedule", "retrain"]
    for group, part in curves.groupby(keys):
        blinded = {
            r: acc for r, (_, acc) in _first_at(part[part.method == "class_blinded"], p).items()
        }
        for method, sub in part[part.method != "class_blinded"].groupby("method"):
            other = {r: acc for r, (_, acc) in _first_at(sub, p).items()}
            pairs = sorted(set(blinded) & set(other))
            diffs = [other[r] - blinded[r] for r in pairs]
            if len(pairs) >= 2 and any(d != diffs[0] for d in diffs):
                pvalue = float(
                    ttest_rel([other[r] for r in pairs], [blinded[r] for r in pairs]).pvalue
                )
            else:
                pvalue = math.nan  # fewer than two pairs, or no spread in the differences
            rows.append(
                {
                    **dict(zip(keys, group, strict=True)),
                    "method": method,
                    f"minus class_blinded @{int(p * 100)}%": mean_std(diffs),
                    "paired t p-value": f"{pvalue:.3g}" if pvalue == pvalue else "NaN",
                }
            )
    return table(
        rows, [*keys, "method", f"minus class_blinded @{int(p * 100)}%", "paired t p-value"]
    )


# ------------------------------------------------------------------------------ prune-rnn
def _retrained(cell) -> list[float]:
    if isinstance(cell, float) and math.isnan(cell):
        return []
    return [float(v) for v in str(cell).split()]


def _recover(point, base: float, tolerance: float) -> int | None:
    """The library's rule (:func:`prune_rnn_summary.epochs_to_recover`) on a points.csv row."""
    from hiddenstruct.experiments.prune_rnn.summary import epochs_to_recover

    row = {
        "accuracy_pruned": point.accuracy_pruned,
        "accuracy_retrained": _retrained(point.accuracy_retrained),
    }
    return epochs_to_recover(row, base, tolerance)


def _tolerated(part: pd.DataFrame, tolerance: float) -> float:
    tolerated = 0.0
    for p, at in sorted(part.groupby("p"), key=lambda kv: kv[0]):
        if not all(_recover(pt, pt.base_accuracy, tolerance) == 0 for pt in at.itertuples()):
            break
        tolerated = p
    return tolerated


def _last_within(part: pd.DataFrame, tolerance: float) -> float:
    """The largest p whose accuracy right after pruning is within ``tolerance`` of the base
    in every repeat, whatever happened at smaller p (with iterative rounds a level can fail
    and a later one, pruning the retrained model, hold)."""
    held = [
        p
        for p, at in part.groupby("p")
        if all(pt.accuracy_pruned >= pt.base_accuracy - tolerance for pt in at.itertuples())
    ]
    return max(held) if held else 0.0


def _epochs(part: pd.DataFrame, p: float, tolerance: float) -> str:
    at = part[(part.p - p).abs() < 1e-9]
    needed = [_recover(pt, pt.base_accuracy, tolerance) for pt in at.itertuples()]
    if not needed:
        return ""
    if None in needed:
        cap = max(len(_retrained(pt.accuracy_retrained)) for pt in at.itertuples())
        return f">{cap}"
    return str(max(needed))


def prune_rnn(folder: Path, repeat: int | None = None) -> str:
    points = pd.read_csv(folder / "points.csv")
    points = points[points.base_above_chance.astype(str) == "True"]
    if repeat is not None:  # one repeat only, e.g. to pair runs that share their base models
        points = points[points.repeat == repeat]
    rows = []
    for (mode, scope), part in points.groupby(["mode", "scope"]):
        base = part.groupby("repeat").base_accuracy.first()
        rows.append(
            {
                "mode": mode,
                "scope": scope,
                "base": mean_std(base),
                "safe p (drop ≤ 1 pt)": _tolerated(part, 0.01),
                "safe p (drop ≤ 5 pt)": _tolerated(part, 0.05),
                "last p within 5 pt": _last_within(part, 0.05),
                "epochs@80%": _epochs(part, 0.8, 0.01),
                "epochs@90%": _epochs(part, 0.9, 0.01),
                "epochs@100%": _epochs(part, 1.0, 0.01),
            }
        )
    summary = pd.read_csv(folder / "summary.csv")
    flagged = int(summary.below_chance.sum()) if "below_chance" in summary else 0
    columns = list(rows[0]) if rows else ["mode"]
    note = f"\n\nbase models at chance (left out): {flagged}" if flagged else ""
    return table(rows, columns) + note


def base_curves(store_path: Path) -> str:
    """prune-rnn base models: first epoch at 100 % / ≥ 99 % test accuracy, lowest accuracy
    after epoch 2, and the final accuracy (from the trials' stored ``base_curve``)."""
    from hiddenstruct.trials.store import TrialStore

    if not store_path.exists():
        raise FileNotFoundError(2, "no store", str(store_path))
    rows = []
    for record in TrialStore(store_path).trials("prune-rnn"):
        if record.status != "done":
            continue
        curve = record.result["base_curve"]

        def first(level: float, curve: list[float] = curve) -> str:
            hits = [e for e, acc in enumerate(curve, start=1) if acc >= level]
            return str(hits[0]) if hits else f"never in {len(curve)}"

        rows.append(
            {
                "mode": record.config["mode"],
                "seed": record.config["seed"],
                "epochs": len(curve),
                "first 100 %": first(1.0),
                "first ≥ 99 %": first(0.99),
                "first ≥ 90 %": first(0.90),
                "lowest after epoch 2": f"{min(curve[2:]):.4f}" if len(curve) > 2 else "NaN",
                "final": f"{curve[-1]:.4f}",
            }
        )
    rows.sort(key=lambda r: (r["mode"], r["seed"]))
    return table(rows, list(rows[0]) if rows else ["mode"])


# ------------------------------------------------------------------------------ priors-rnn
#: The graph properties of the paper's Table 1, in its order.
TABLE1 = (
    "layers", "nodes", "edges", "source_nodes", "diameter", "density",
    "average_shortest_path_length", "eccentricity_var", "degree_var", "closeness_var",
    "nodes_betweenness_var", "edge_betweenness_var",
)  # fmt: skip


def priors(folder: Path) -> str:
    parts = []
    fam = pd.read_csv(folder / "family_summary.csv")
    parts.append(table(fam.round(4).to_dict("records"), list(fam.columns)))
    meta = pd.read_csv(folder / "meta_dataset.csv")
    target = "test_acc"
    if {"barabasi_albert", "watts_strogatz"} <= set(meta.family):
        from scipy.stats import mannwhitneyu

        lines = []
        for mode, part in meta.groupby("mode"):
            ba = part[part.family == "barabasi_albert"][target]
            ws = part[part.family == "watts_strogatz"][target]
            test = mannwhitneyu(ba, ws, alternative="two-sided")
            lines.append(
                f"{mode}: BA − WS mean test accuracy {ba.mean() - ws.mean():+.4f}, "
                f"Mann–Whitney U p = {test.pvalue:.3g} (n = {len(ba)} + {len(ws)})"
            )
        parts.append("\n".join(lines))
        sources = meta.groupby(["mode", "family"]).source_nodes.agg(["min", "max", "mean"])
        parts.append(table(sources.round(2).reset_index().to_dict("records"),
                           ["mode", "family", "min", "max", "mean"]))  # fmt: skip
    r2 = pd.read_csv(folder / "r2.csv")
    cols = [
        "group",
        "regressor",
        "split_r2",
        "cv_r2_mean",
        "cv_r2_std",
        "n_train",
        "n_test",
        "notes",
    ]
    parts.append(table(r2.round(3).to_dict("records"), [c for c in cols if c in r2]))
    from hiddenstruct.experiments.priors_rnn.figures import PAPER_TABLE1

    corr = pd.read_csv(folder / "table1_correlations.csv").set_index("property")
    corr = corr.loc[[p for p in TABLE1 if p in corr.index]]
    modes = [m for m in corr.columns if m in PAPER_TABLE1.columns]
    rows = []
    for prop, row in corr.iterrows():
        entry = {"property": prop}
        for mode in modes:
            paper = PAPER_TABLE1.loc[prop, mode] if prop in PAPER_TABLE1.index else math.nan
            entry[f"{mode} ours"] = round(float(row[mode]), 2)
            entry[f"{mode} paper"] = paper
        rows.append(entry)
    columns = ["property", *(f"{m} {w}" for m in modes for w in ("ours", "paper"))]
    parts.append(table(rows, columns))
    for mode in modes:
        pairs = [(r[f"{mode} ours"], r[f"{mode} paper"]) for r in rows]
        pairs = [(o, q) for o, q in pairs if o == o and q == q]
        same = sum((o > 0) == (q > 0) for o, q in pairs)
        parts.append(f"{mode}: {same} of {len(pairs)} signs as in the paper's Table 1")
    return "\n\n".join(parts)


# ------------------------------------------------------------------------------ nas
def nas(folder: Path) -> str:
    summary = json.loads((folder / "summary.json").read_text())
    rows = []
    for search in ("prediction", "no_prediction", "random"):
        s = summary.get(search)
        if not s:
            continue
        rows.append(
            {
                "search": search,
                "best val acc": f"{s['best_val_accuracy']:.4f}",
                "generations": s["generations"],
                "trained": s["measured"],
                "estimated": s["estimated"],
                "train CPU s": f"{s['train_cpu_seconds']:.0f}",
                "search wall s": f"{s['search_seconds']:.0f}",
            }
        )
    out = [table(rows, list(rows[0]) if rows else ["search"])]
    speed = summary.get("speedup_from_prediction")
    cpu = summary.get("cpu_speedup_from_prediction")
    common = summary.get("speedup_generations")
    out.append(
        "speed-up from prediction (search seconds"
        + (f", first {common} generations" if common else "")
        + f"): {'NaN' if speed is None else f'{speed:.2f}'}; CPU: "
        + ("NaN (different generation counts)" if cpu is None else f"{cpu:.2f}")
    )
    meta = folder / "meta_dataset.csv"
    if meta.exists():
        from hiddenstruct.nas.features import FEATURE_NAMES

        m = pd.read_csv(meta)
        features = [f for f in FEATURE_NAMES if f in m.columns]
        out.append(
            f"meta-dataset: {len(m)} rows ({int(m.measured.astype(bool).sum())} measured), "
            f"{len(features)} structural features"
        )
    ranks = folder / "feature_importances.csv"
    if ranks.exists():
        top = pd.read_csv(ranks).head(10)
        path_std = [f for f in top.feature if f.startswith("path_") and f.endswith("_std")]
        out.append(table(top.round(3).to_dict("records"), list(top.columns)))
        out.append(f"path-length std features among the top 10: {len(path_std)}")
    corr = folder / "feature_correlations.csv"
    if corr.exists():
        c = pd.read_csv(corr).set_index("feature")
        for name in [f for f in c.index if "closeness" in f or "centrality" in f]:
            out.append(
                f"correlation of {name} with the max accuracy: {c.loc[name, 'pearson_r']:.3f}"
            )
    scores = folder / "predictor_scores.csv"
    if scores.exists():
        p = pd.read_csv(scores)
        cols = ["rows", "regressor", "split_r2", "split_mae", "cv_r2_mean", "cv_r2_std", "notes"]
        out.append(table(p.round(3).to_dict("records"), [c for c in cols if c in p]))
    return "\n\n".join(out)


def _labelled(items: list[str]) -> list[tuple[str, Path]]:
    pairs = []
    for item in items:
        label, _, path = item.rpartition("=")
        pairs.append((label or Path(path).name, Path(path)))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prune-ffn", nargs="*", default=[], metavar="[LABEL=]DIR")
    parser.add_argument("--prune-rnn", nargs="*", default=[], metavar="[LABEL=]DIR")
    parser.add_argument(
        "--repeat", type=int, default=None, help="prune-rnn: only this repeat (default: all)"
    )
    parser.add_argument("--base-curves", nargs="*", default=[], metavar="[LABEL=]STORE")
    parser.add_argument("--priors", nargs="*", default=[], metavar="[LABEL=]DIR")
    parser.add_argument("--nas", nargs="*", default=[], metavar="[LABEL=]DIR")
    args = parser.parse_args(argv)
    sections = (
        ("prune-ffn", args.prune_ffn, prune_ffn),
        ("prune-rnn", args.prune_rnn, lambda folder: prune_rnn(folder, args.repeat)),
        ("prune-rnn base models", args.base_curves, base_curves),
        ("priors-rnn", args.priors, priors),
        ("nas", args.nas, nas),
    )
    missing = 0
    for name, items, render in sections:
        for label, folder in _labelled(items):
            print(f"\n## {name}: {label} ({folder})\n")
            try:
                print(render(folder))
            except FileNotFoundError as err:
                missing += 1
                print(f"(skipped: {err.filename} is missing)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
