"""Experiment: pruning feed-forward networks (paper §4.1, Figure 2a).

ReLU MLPs (784-100-10 and 784-300-100-10 on MNIST, or 64-… on the embedded digits) are
trained, then pruned iteratively by five methods — random, magnitude class-blinded,
class-uniform, class-distributed and Optimal Brain Damage — with a relative or fixed-size
schedule, with and without retraining after each step. Every (architecture, method,
schedule, retraining, repeat) is one trial in the store (experiment ``prune-ffn``), so an
interrupted run resumes. Steps are clipped to land exactly on 50/60/80/90/95 % removed.

Outputs in ``out_dir``: ``curves.csv`` (every step of every trial), ``table.csv`` (test
accuracy at 50/60/80/90/95 % removed, mean ± std over repeats, with/without retraining),
``figure2a_<arch>_<schedule>.png``/``.svg`` (accuracy vs. % removed, mean ± std band per
method, without / with retraining side by side).
"""

from __future__ import annotations

from typing import Any

from hiddenstruct.experiments.base import Experiment, TrialRunner, config_column, result_column
from hiddenstruct.experiments.prune_ffn.config import (  # noqa: F401  (re-exported)
    BASE_EXPERIMENT,
    DESCRIPTION,
    EXPERIMENT,
    HELP,
    METHODS,
    PRESETS,
    SCHEDULE_NAMES,
    TABLE_POINTS,
    Config,
    PruneFFNConfig,
    base_config,
    trial_configs,
)
from hiddenstruct.experiments.prune_ffn.outputs import write_outputs
from hiddenstruct.experiments.prune_ffn.report_section import SECTION
from hiddenstruct.trials.config import added_defaults
from hiddenstruct.trials.executors import Executor, run_trials
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.preflight import check_image_data
from hiddenstruct.trials.shared import run_shared
from hiddenstruct.trials.store import TrialRecord, TrialStore

#: the shared trial that trains one base model (:func:`.trial.base_trial`)
BASE_TRIAL = TrialRunner("hiddenstruct.experiments.prune_ffn.trial", "base_trial")


def attach_bases(
    trials: list[dict[str, Any]],
    store: TrialStore,
    executor: Executor | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run the distinct base trials (once per store) and point each pruning trial at its base."""
    bases = [base_config(t) for t in trials]
    added = {"threads": 1}  # base trials stored before --threads existed ran at its default
    shared = run_shared(BASE_EXPERIMENT, bases, BASE_TRIAL, store, executor, progress, added)
    out = []
    for trial, base in zip(trials, bases, strict=True):
        result, artifacts = shared[trial_identity(BASE_EXPERIMENT, base, added)]
        link = {"state_dict": artifacts["state_dict"], "test_accuracy": result["test_accuracy"]}
        out.append({**trial, "runtime": {**trial["runtime"], "base": link}})
    return out


def accuracy_at(fraction: float):
    """A ``list_columns`` entry: the accuracy at ``fraction`` of the weights removed."""

    def get(t) -> Any:
        points = (t.result or {}).get("points") or []
        hits = [p["accuracy"] for p in points if abs(p.get("zero_fraction", -1) - fraction) < 1e-3]
        return hits[0] if hits else None

    return get


class PruneFFN(Experiment):
    """prune-ffn (paper §4.1): base MLPs trained once, pruned by five methods. Demo: digits,
    64-100-10, five methods, one repeat."""

    name = EXPERIMENT
    help = HELP
    description = DESCRIPTION
    config_type = PruneFFNConfig
    presets = PRESETS
    report_section = SECTION
    paper_scale = (
        ("data set", "dataset", "value", "mnist"),
        ("hidden layers", "hidden", "set", "architectures"),
        ("epochs", "epochs", "value", "epochs"),
        ("repeats", "repeat", "count", "repeats"),
    )
    list_columns = {
        "architecture": lambda t: "-".join(map(str, t.config.get("hidden", []))),
        "method": config_column("method"),
        "schedule": config_column("schedule"),
        "retrain": config_column("retrain"),
        "seed": config_column("seed"),
        "base acc": result_column("base_accuracy"),
        "acc@90%": accuracy_at(0.9),
    }

    trials = staticmethod(trial_configs)
    run_trial = TrialRunner("hiddenstruct.experiments.prune_ffn.trial", "ffn_trial")
    write_outputs = staticmethod(write_outputs)

    def sweep(self, config, store, executor=None, progress=True, trials=None) -> list[TrialRecord]:
        """Base models first (each once, only for unfinished trials), then every pruning trial
        (``trials``: :meth:`plan`'s list when already built)."""
        planned = self.trials(config) if trials is None else trials
        hashes = self.identities(config, planned)
        done = {r.hash for r in store.trials(EXPERIMENT, status="done")}
        todo = [t for t, h in zip(planned, hashes, strict=True) if h not in done]
        linked = iter(attach_bases(todo, store, executor, progress) if todo else [])
        ready = [t if h in done else next(linked) for t, h in zip(planned, hashes, strict=True)]
        added = added_defaults(type(config))
        return run_trials(
            EXPERIMENT, ready, self.run_trial, store, executor, progress=progress, added=added
        )

    def check_data(self, config: PruneFFNConfig) -> None:
        check_image_data(config.dataset, config.data_dir, ("train", "test"))


PRUNE_FFN = PruneFFN()
