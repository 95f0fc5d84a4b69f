"""The scale banner of a report section: this run's data set, sizes, repeats and epochs next
to ``--preset paper`` of the same experiment, read from the trials in the store.

A section whose trials differ from the paper preset in any of its experiment's ``paper_scale``
(:class:`~hiddenstruct.experiments.base.Experiment`) gets a banner
naming each difference and pointing to docs/reproduction.md (the paper-scale numbers); one
without a store says its scale is unknown. Data sets are the paper's (§4.1 MNIST, §4.2–4.3
the Reber grammar, §4.4 CIFAR-10), since the presets leave the data set to the command line.

Example::

    >>> differences("prune-ffn", store)
    [('data set', 'digits', 'mnist'), ('repeats', '1', '5'), ...]
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from hiddenstruct.experiments.registry import EXPERIMENTS, make_config


def _plain(value: Any) -> Any:
    """Tuples as lists (JSON round trip), so stored and preset values compare equal."""
    return json.loads(json.dumps(value, default=str))


def _text(value: Any) -> str:
    if value is None:
        return "all"
    if isinstance(value, list):
        return "-".join(map(str, value)) if all(not isinstance(v, list) for v in value) else (
            " and ".join(_text(v) for v in value)
        )  # fmt: skip
    return str(value)


def paper_config(experiment: str) -> dict[str, Any] | None:
    """``--preset paper`` of ``experiment`` as plain values (None for unknown experiments)."""
    if experiment not in EXPERIMENTS:
        return None
    return _plain(asdict(make_config(experiment, "paper")))


def differences(experiment: str, store) -> list[tuple[str, str, str]] | None:
    """(label, this run, paper preset) for each scale setting that differs from the paper
    preset; [] when none does; None when the store has no trials of ``experiment`` or the
    experiment has no paper preset."""
    items = EXPERIMENTS[experiment].paper_scale if experiment in EXPERIMENTS else ()
    paper = paper_config(experiment)
    trials = store.trials(experiment) if store is not None else []
    if not items or paper is None or not trials:
        return None
    found = []
    for label, key, how, reference in items:
        values = [_plain(t.config.get(key)) for t in trials if key in t.config]
        if not values:
            continue
        distinct = list({json.dumps(v, sort_keys=True): v for v in values}.values())
        target = paper.get(reference, reference) if isinstance(reference, str) else reference
        if how == "count":
            expected = len(target) if isinstance(target, list) else int(target)
            if len(distinct) != expected:
                found.append((label, str(len(distinct)), str(expected)))
        elif how == "set":
            ours = sorted(json.dumps(v) for v in distinct)
            if ours != sorted(json.dumps(v) for v in target):
                found.append((label, _text(distinct), _text(target)))
        elif len(distinct) != 1 or distinct[0] != target:
            found.append((label, ", ".join(_text(v) for v in distinct), _text(target)))
    return found
