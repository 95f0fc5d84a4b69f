"""A summary of a Reber dataset: counts, balance, lengths, alphabet and train/test overlap.

Used by ``hiddenstruct reber check FILE [FILE]`` and by experiments that record what they
trained on::

    >>> from hiddenstruct.data.reber import generate_reber_dataset
    >>> summary = summarize(generate_reber_dataset(n=40, seed=0))
    >>> summary["splits"]["train"]["rows"], summary["splits"]["test"]["rows"]
    (30, 10)
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from hiddenstruct.data.reber_dataset import SPLITS, ReberDataset, train_test_overlap
from hiddenstruct.data.reber_grammar import ALPHABET, get_grammar


def _length_stats(lengths: list[int]) -> dict[str, float]:
    if not lengths:  # undefined, not zero
        return {"min": math.nan, "mean": math.nan, "max": math.nan}
    return {"min": min(lengths), "mean": statistics.fmean(lengths), "max": max(lengths)}


def summarize(dataset: ReberDataset, grammar: str | None = "reber") -> dict[str, Any]:
    """Counts, positive share, lengths per class, alphabet, overlap and checksum of ``dataset``.

    With a ``grammar``, ``label_disagreements`` counts rows whose label the grammar contradicts.
    """
    splits = {}
    for split in SPLITS:
        rows = [
            (s, y)
            for s, y, sp in zip(dataset.strings, dataset.labels, dataset.splits, strict=True)
            if sp == split
        ]
        positives = sum(y for _, y in rows)
        splits[split] = {
            "rows": len(rows),
            "positives": positives,
            "negatives": len(rows) - positives,
            "positive_share": positives / len(rows) if rows else math.nan,
            "unique_strings": len({s for s, _ in rows}),
            "length_positive": _length_stats([len(s) for s, y in rows if y]),
            "length_negative": _length_stats([len(s) for s, y in rows if not y]),
        }
    letters = set("".join(dataset.strings))
    summary: dict[str, Any] = {
        "rows": len(dataset),
        "checksum": dataset.checksum(),
        "splits": splits,
        "alphabet": "".join(sorted(letters)),
        "outside_reber_alphabet": "".join(sorted(letters - set(ALPHABET))),
        "overlap": train_test_overlap(dataset),
    }
    if grammar is not None:
        spec = get_grammar(grammar)
        summary["label_disagreements"] = sum(
            int(spec.accepts(s)) != y for s, y in zip(dataset.strings, dataset.labels, strict=True)
        )
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a few readable lines."""
    lines = [f"{summary['rows']} rows, {summary['checksum']}"]
    for split, info in summary["splits"].items():
        pos, neg = info["length_positive"], info["length_negative"]
        lines.append(
            f"  {split}: {info['rows']} rows, {info['positives']} valid / {info['negatives']} "
            f"invalid ({info['positive_share']:.1%} valid), {info['unique_strings']} distinct; "
            f"length valid {pos['min']}–{pos['max']} (mean {pos['mean']:.1f}), "
            f"invalid {neg['min']}–{neg['max']} (mean {neg['mean']:.1f})"
        )
    outside = summary["outside_reber_alphabet"]
    lines.append(
        f"  alphabet: {summary['alphabet']}"
        + (f" ({outside} outside Reber's BTPSXVE)" if outside else "")
    )
    overlap = summary["overlap"]
    lines.append(
        f"  train/test overlap: {overlap['test_in_train']:.1%} of test rows occur in train "
        f"({overlap['shared_strings']} shared strings); {overlap['duplicate_rows']} duplicate "
        f"rows within a split; {overlap['conflicting_labels']} strings with both labels"
    )
    if "label_disagreements" in summary:
        lines.append(f"  labels contradicting the grammar: {summary['label_disagreements']}")
    return "\n".join(lines)
