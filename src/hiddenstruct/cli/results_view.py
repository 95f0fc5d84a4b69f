"""What ``results list`` / ``results show`` print: per experiment the columns that tell its
trials apart and its key metric; filters; a readable view of one trial.

A registered experiment's columns are its ``list_columns`` (header → function of the trial
record; :class:`~hiddenstruct.experiments.base.Experiment`), bookkeeping experiments' are in
:data:`LIST_VIEWS`; experiments without columns get the config keys that differ between the listed
trials and their first numeric result. :data:`INTERNAL` experiments (bookkeeping trials
such as priors-rnn's training packs) are hidden unless ``--all``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from typing import Any

from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.base import config_column, result_column
from hiddenstruct.experiments.registry import EXPERIMENTS

INTERNAL = frozenset({"priors-rnn-pack", "demo-reber-rnn"})
Getter = Callable[[Any], Any]


# bookkeeping trials stored under their own experiment names (not registered experiments)
LIST_VIEWS: dict[str, dict[str, Getter]] = {
    "prune-ffn-base": {
        "architecture": lambda t: "-".join(map(str, t.config.get("hidden", []))),
        "seed": config_column("seed"),
        "test acc": result_column("test_accuracy"),
    },
    "demo-reber-rnn": {"mode": config_column("mode"), "test acc": result_column("test_accuracy")},
}


def format_value(value: Any) -> str:
    """Short text for a table cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return f"({len(value)} keys)"
    return str(value)


def _generic_view(trials) -> dict[str, Getter]:
    keys: dict[str, set[str]] = {}
    for t in trials:
        for key, value in t.config.items():
            keys.setdefault(key, set()).add(json.dumps(value, sort_keys=True, default=str))
    view = {k: config_column(k) for k, v in keys.items() if len(v) > 1}
    for t in trials:
        numeric = [
            k
            for k, v in (t.result or {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        if numeric:
            view[numeric[0]] = result_column(numeric[0])
            break
    return view


def view_for(experiment: str, trials) -> dict[str, Getter]:
    """The columns of ``experiment`` (the experiment's ``list_columns``, else the generic ones)."""
    registered = EXPERIMENTS.get(experiment)
    columns = registered.list_columns if registered is not None else LIST_VIEWS.get(experiment)
    return columns or _generic_view(trials)


def parse_where(items: list[str] | None) -> list[tuple[str, str]]:
    """``["method=obd", "seed=1"]`` → pairs; a malformed item is a usage error."""
    pairs = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--where expects KEY=VALUE (a config key), got {item!r}")
        pairs.append((key.strip(), value.strip()))
    return pairs


def _matches(value: Any, wanted: str) -> bool:
    if isinstance(value, (list, tuple)):
        forms = {",".join(map(str, value)), "-".join(map(str, value)), json.dumps(value)}
        return wanted in forms
    if isinstance(value, bool):
        return wanted.lower() in ({"true", "1", "yes"} if value else {"false", "0", "no"})
    if isinstance(value, float):
        try:
            return math.isclose(value, float(wanted))
        except ValueError:
            return False
    return str(value) == wanted


def apply_where(trials, pairs: list[tuple[str, str]]):
    """Trials whose config has every ``key=value``; an unknown key lists the known ones."""
    if not pairs:
        return trials
    known = sorted({k for t in trials for k in t.config})
    for key, _ in pairs:
        if trials and key not in known:
            raise UsageError(f"--where: no trial has config key {key!r}; keys: {', '.join(known)}")
    return [t for t in trials if all(k in t.config and _matches(t.config[k], v) for k, v in pairs)]


def started_text(t) -> str:
    if not t.started_at:
        return ""
    return dt.datetime.fromtimestamp(t.started_at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


def describe_trial(t, metrics: list[tuple[int, str, float]], artifacts: dict[str, str]) -> str:
    """A readable multi-line view of one trial: header, config, result, metrics, artifacts."""
    seconds = f", {t.seconds:.1f} s" if t.seconds is not None else ""
    lines = [
        f"trial {t.hash} — {t.experiment}, {t.status}, {t.attempts} attempt(s){seconds}",
        "",
        "config:",
    ]
    lines += [f"  {k}: {_long_value(v)}" for k, v in t.config.items()]
    lines += ["", "result:"]
    if t.result:
        lines += [f"  {k}: {_long_value(v)}" for k, v in t.result.items()]
    else:
        lines.append("  (none)")
    if t.error:
        tail = t.error.strip().splitlines()[-3:]
        lines += ["", "error (last lines; `--json` for the full traceback):"] + [
            f"  {x}" for x in tail
        ]
    lines += ["", f"metrics: {len(metrics)} rows"]
    series: dict[str, list[tuple[int, float]]] = {}
    for step, name, value in metrics:
        series.setdefault(name, []).append((step, value))
    for name, points in series.items():
        (s0, v0), (s1, v1) = points[0], points[-1]
        lines.append(f"  {name}: {len(points)} steps, step {s0}: {v0:.4g} … step {s1}: {v1:.4g}")
    lines += ["", f"artifacts: {len(artifacts) or 'none'}"]
    lines += [f"  {name}: {path}" for name, path in artifacts.items()]
    return "\n".join(lines)


def _long_value(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], (dict, list)):
        return f"[{len(value)} entries]"
    if isinstance(value, dict) and len(json.dumps(value, default=str)) > 100:
        return (
            f"{{{len(value)} keys: {', '.join(list(value)[:6])}{', …' if len(value) > 6 else ''}}}"
        )
    text = format_value(value) if not isinstance(value, dict) else json.dumps(value, default=str)
    return text if len(text) <= 120 else f"{text[:117]}…"
