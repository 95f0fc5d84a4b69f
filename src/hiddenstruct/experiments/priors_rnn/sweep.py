"""priors-rnn's sweep: the pending (graph, mode) trials grouped into packs, the packs run as
trials of ``priors-rnn-pack`` through :func:`~hiddenstruct.trials.executors.run_trials`, and
each finished pack's rows copied into its graph trials (:mod:`.experiment` describes the
protocol). Light imports: the pack runner (:func:`.trial.train_pack`, torch) is named by a
:class:`~hiddenstruct.experiments.base.TrialRunner`, so process pools and Ray import it
themselves."""

from __future__ import annotations

from typing import Any

from hiddenstruct.experiments.base import TrialRunner
from hiddenstruct.experiments.priors_rnn.config import (
    DATA_KEYS,
    EXPERIMENT,
    PACK_EXPERIMENT,
    TRAINING_KEYS,
    PriorsConfig,
    build_graph,
    graph_trials,
)
from hiddenstruct.graphs.dag import layers
from hiddenstruct.trials.executors import run_trials
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.store import TrialStore

#: The trial function of a pack: trains its graphs together, one result row per graph.
PACK_RUNNER = TrialRunner("hiddenstruct.experiments.priors_rnn.trial", "train_pack")
#: The trial config keys a sweep's result row repeats (graph files: name and content hash).
ROW_KEYS = ("family", "mode", "index", "n", "graph_seed", "name", "graph_sha256")


def make_packs(
    trials: list[dict[str, Any]],
    pack_size: int,
    threads: int,
    device: str = "auto",
    save_models: bool = False,
) -> list[dict[str, Any]]:
    """Group trials of equal mode and training settings into packs of similar depth."""
    groups: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
    for trial in trials:
        key = repr([trial.get(k) for k in ("mode", "threads", *TRAINING_KEYS, *DATA_KEYS)])
        G = build_graph(trial)
        groups.setdefault(key, []).append((len(layers(G)), G.number_of_nodes(), trial))
    packs = []
    for members in groups.values():
        members.sort(key=lambda item: (item[0], item[1], trial_identity(EXPERIMENT, item[2])))
        for start in range(0, len(members), pack_size):
            chunk = [item[2] for item in members[start : start + pack_size]]
            runtime = {"device": device, **({"save_models": True} if save_models else {})}
            # a trial's own --threads (absent at 1), else ``threads``; run by execute_trial
            pack_threads = chunk[0].get("threads", threads)
            packs.append({"trials": chunk, "threads": pack_threads, "runtime": runtime})
    return packs


def harvest(store: TrialStore, wanted: set[str] | None = None) -> int:
    """Copy rows of finished packs into their (registered, not yet done) graph trials."""
    copied = 0
    for pack in store.trials(PACK_EXPERIMENT, status="done"):
        for row in (pack.result or {}).get("rows", []):
            trial_hash = row.get("hash")
            if wanted is not None and trial_hash not in wanted:
                continue
            record = store.get(trial_hash)
            if record is not None and record.status != "done":
                model = row.get("model_artifact")
                result = {k: v for k, v in row.items() if k not in ("hash", "model_artifact")}
                store.finish(trial_hash, result, artifacts={"model": model} if model else None)
                copied += 1
    return copied


class SweepRows(list):
    """The rows of a sweep's finished trials (a list), and ``planned``: how many (graph, mode)
    trials the sweep had, for the outputs' "done of planned" line without rebuilding them."""

    def __init__(self, rows: list[dict[str, Any]], planned: int) -> None:
        super().__init__(rows)
        self.planned = planned


def run_sweep(
    config: PriorsConfig,
    store: TrialStore,
    executor=None,
    progress: bool = True,
    trials: list[dict[str, Any]] | None = None,
) -> SweepRows:
    """Train every (graph, mode) not yet done, in packs; return all rows of this sweep.
    ``trials``: :func:`graph_trials`'s list when already built (given graph files and Reber
    CSVs are then not read again)."""
    trials = graph_trials(config) if trials is None else trials
    hashes = [trial_identity(EXPERIMENT, t) for t in trials]
    store.register_many(EXPERIMENT, trials, hashes)
    harvest(store, set(hashes))
    pending = [t for t, h in zip(trials, hashes, strict=True) if store.get(h).status != "done"]
    if pending:
        packs = make_packs(
            pending, config.pack_size, config.threads, config.device, config.save_models
        )
        run_trials(PACK_EXPERIMENT, packs, PACK_RUNNER, store, executor, progress=progress)
        harvest(store, set(hashes))
    rows = []
    for trial, trial_hash in zip(trials, hashes, strict=True):
        record = store.get(trial_hash)
        if record.status == "done":
            result = {k: v for k, v in record.result.items() if k != "train_curve"}
            rows.append(
                {
                    **{k: trial[k] for k in ROW_KEYS if k in trial},
                    **result,
                    "hash": trial_hash,
                }
            )
    return SweepRows(rows, len(trials))
