"""Experiment: pruning recurrent networks on the Reber grammar (paper §4.2, Figures 2b and 5).

Model: Embedding(128 ASCII codes) → 3 masked recurrent layers of 50 → Linear(2); Adam lr
1e-3, batch 32, gradient clipping 5. Per mode (RNN_TANH, RNN_RELU, GRU, LSTM) a base model is
trained until 100 % test accuracy or an epoch cap (paper: 50 epochs). From that base, i2h
only, h2h only and both are pruned at p = 10, 20, …, 100 % (per tensor, the p-th percentile
of |w| is the threshold); the test accuracy is recorded right after pruning and after each
retraining epoch, up to a cap, stopping early once it is back within ``tolerance`` of the base.
One trial per (mode, repeat) in the store (experiment ``prune-rnn``), so runs resume.

Outputs in ``out_dir``: ``points.csv``, ``summary.csv`` (largest p tolerated without
retraining — accuracy drop ≤ tolerance — and epochs needed to recover above it),
``figure2b_both.png``, ``figure5a_i2h.png``, ``figure5b_h2h.png`` (accuracy vs. p per mode,
right after pruning and after the first retraining epoch; p = 0 is the base model).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from hiddenstruct.data.reber_torch import VOCAB_SIZE, load_reber_splits, reber_collate
from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.executors import Executor, TrialLogger, run_trials
from hiddenstruct.experiments.prune_ffn import retrain_hooks, write_csv
from hiddenstruct.experiments.prune_settings import RNN_MODES as MODES
from hiddenstruct.experiments.prune_settings import RNN_SCOPES as SCOPES
from hiddenstruct.experiments.store import TrialStore
from hiddenstruct.nn import MaskedRNN, SequenceClassifier
from hiddenstruct.nn.masking import load_state_dict
from hiddenstruct.pruning import percentile_prune
from hiddenstruct.training import evaluate, train
from hiddenstruct.training.optim import make_optimizer

EXPERIMENT = "prune-rnn"

PERCENTS = tuple(round(0.1 * k, 1) for k in range(1, 11))


@dataclass(frozen=True)
class PruneRNNConfig:
    """Settings of ``hiddenstruct experiment prune-rnn`` (small defaults; ``paper()`` for §4.2)."""

    modes: tuple[str, ...] = MODES
    scopes: tuple[str, ...] = SCOPES
    percents: tuple[float, ...] = PERCENTS
    n: int = 2000  # sequences (paper: 25 000)
    hard_fraction: float = 0.5
    embedding_dim: int = 50
    hidden_sizes: tuple[int, ...] = (50, 50, 50)
    lr: float = 1e-3
    batch_size: int = 32
    clip_grad_norm: float = 5.0
    base_epochs: int = 10  # cap; stops early at target_accuracy (paper: 50 epochs)
    target_accuracy: float | None = 1.0
    retrain_epochs: int = 2  # cap per pruning level
    tolerance: float = 0.01  # accuracy drop counted as "no significant reduction"
    repeats: int = 1
    seed: int = 0

    @staticmethod
    def paper(**overrides: Any) -> PruneRNNConfig:
        """§4.2: 25 000 strings, 50 base epochs (no early stop), up to 5 retraining epochs."""
        values = dict(n=25_000, base_epochs=50, target_accuracy=None, retrain_epochs=5)
        values.update(overrides)
        return PruneRNNConfig(**values)

    def validate(self) -> None:
        for label, given, valid in (("modes", self.modes, MODES), ("scopes", self.scopes, SCOPES)):
            bad = [v for v in given if v not in valid]
            if bad or not given:
                raise UsageError(f"unknown or no {label} {bad}; valid: {', '.join(valid)}")
        if not self.percents or any(not 0 < p <= 1 for p in self.percents):
            raise UsageError("percents must be fractions in (0, 1], e.g. 0.1 … 1.0")
        if self.n < 20 or self.repeats < 1 or self.base_epochs < 1:
            raise UsageError("need n >= 20, repeats >= 1 and base_epochs >= 1")


def trial_configs(config: PruneRNNConfig) -> list[dict[str, Any]]:
    """One plain-dict config per (mode, repeat)."""
    config.validate()
    common = {k: v for k, v in asdict(config).items() if k not in ("modes", "repeats", "seed")}
    return [
        {**common, "mode": mode, "repeat": r, "seed": config.seed + r}
        for r in range(config.repeats)
        for mode in config.modes
    ]


def _model(cfg: dict[str, Any]) -> SequenceClassifier:
    rnn = MaskedRNN(cfg["embedding_dim"], list(cfg["hidden_sizes"]), cfg["mode"])
    return SequenceClassifier(rnn, vocab_size=VOCAB_SIZE, num_classes=2)


def rnn_trial(cfg: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
    """Train the base model of one mode, then prune every scope at every p from that base."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_ds, test_ds = load_reber_splits(
        cfg["n"], seed=cfg["seed"], hard_fraction=cfg["hard_fraction"]
    )
    g = torch.Generator().manual_seed(cfg["seed"])
    train_loader = DataLoader(
        train_ds, batch_size=cfg["batch_size"], shuffle=True, collate_fn=reber_collate, generator=g
    )
    test_loader = DataLoader(test_ds, batch_size=512, collate_fn=reber_collate)
    base = _model(cfg)
    history = train(
        base,
        train_loader,
        epochs=cfg["base_epochs"],
        optimizer="adam",
        lr=cfg["lr"],
        clip_grad_norm=cfg["clip_grad_norm"],
        val_loader=test_loader,
        target_accuracy=cfg["target_accuracy"],
        device=device,
        progress=False,
    )
    base_curve = [e.val_accuracy for e in history.epochs]
    base_acc = evaluate(base, test_loader, device).accuracy
    state = copy.deepcopy(base.state_dict())
    points = []
    for scope in cfg["scopes"]:
        for p in cfg["percents"]:
            model = _model(cfg)
            load_state_dict(model, copy.deepcopy(state))
            model.to(device)
            report = percentile_prune(model, p, scope=scope)
            optimizer = make_optimizer("adam", model.parameters(), cfg["lr"])
            train_epoch, accuracy = retrain_hooks(
                train_loader, test_loader, optimizer, device, cfg["clip_grad_norm"]
            )
            pruned_acc = accuracy(model)
            retrained = []
            while (
                len(retrained) < cfg["retrain_epochs"]
                and (retrained[-1] if retrained else pruned_acc) < base_acc - cfg["tolerance"]
            ):
                train_epoch(model)
                retrained.append(accuracy(model))
            points.append(
                {
                    "scope": scope,
                    "p": p,
                    "zero_fraction": report.zero_fraction_after,
                    "accuracy_pruned": pruned_acc,
                    "accuracy_retrained": retrained,
                }
            )
            log.metric(len(points), p=p, accuracy_pruned=pruned_acc)
    return {
        "base_accuracy": base_acc,
        "base_epochs": len(base_curve),
        "base_curve": base_curve,
        "points": points,
    }


def epochs_to_recover(point: dict[str, Any], base: float, tolerance: float) -> int | None:
    """0 when no retraining was needed, k when epoch k recovered, None when it never did."""
    if point["accuracy_pruned"] >= base - tolerance:
        return 0
    for k, acc in enumerate(point["accuracy_retrained"], start=1):
        if acc >= base - tolerance:
            return k
    return None


def summarize(records: list[dict[str, Any]], tolerance: float) -> list[dict[str, Any]]:
    """Per (mode, scope): mean base accuracy, largest tolerated p, epochs to recover above it."""
    groups: dict[tuple[str, str], list[tuple[float, dict]]] = defaultdict(list)
    for rec in records:
        for point in rec["result"]["points"]:
            groups[(rec["mode"], point["scope"])].append((rec["result"]["base_accuracy"], point))
    all_ps = sorted({pt["p"] for items in groups.values() for _, pt in items})
    rows = []
    for (mode, scope), items in sorted(groups.items()):
        ps = sorted({pt["p"] for _, pt in items})
        ok = {
            p: all(epochs_to_recover(pt, b, tolerance) == 0 for b, pt in items if pt["p"] == p)
            for p in ps
        }
        tolerated = 0.0
        for p in ps:
            if not ok[p]:
                break
            tolerated = p
        row = {
            "mode": mode,
            "scope": scope,
            "base_accuracy": round(float(np.mean([b for b, _ in items])), 4),
            "tolerated_p": tolerated,
        }
        for p in all_ps:
            row[f"epochs@{int(round(p * 100))}%"] = ""
        for p in ps:
            if p > tolerated:
                needed = [epochs_to_recover(pt, b, tolerance) for b, pt in items if pt["p"] == p]
                cap = max(len(pt["accuracy_retrained"]) for _, pt in items if pt["p"] == p)
                row[f"epochs@{int(round(p * 100))}%"] = f">{cap}" if None in needed else max(needed)
        rows.append(row)
    return rows


def _figures(records, out_dir: Path) -> dict[str, str]:
    """Figures 2b / 5a / 5b: see :func:`hiddenstruct.experiments.plots.recurrent_scope_figures`."""
    import pandas as pd

    from hiddenstruct.experiments.plots import recurrent_scope_figures

    rows = [
        {
            "mode": rec["mode"],
            "repeat": rec.get("repeat", 0),
            "scope": pt["scope"],
            "p": pt["p"],
            "base_accuracy": rec["result"]["base_accuracy"],
            "accuracy_pruned": pt["accuracy_pruned"],
            "accuracy_retrained": (
                pt["accuracy_retrained"][0] if pt["accuracy_retrained"] else float("nan")
            ),
        }
        for rec in records
        for pt in rec["result"]["points"]
    ]
    return recurrent_scope_figures(pd.DataFrame(rows), out_dir)


def run_prune_rnn(
    config: PruneRNNConfig,
    store: TrialStore,
    out_dir: Path,
    executor: Executor | None = None,
    progress: bool = True,
) -> dict[str, str]:
    """Run (or resume) the trials, then write points, summary and figures; returns label → path."""
    records = run_trials(
        EXPERIMENT, trial_configs(config), rnn_trial, store, executor, progress=progress
    )
    done = [{**r.config, "result": r.result} for r in records if r.status == "done"]
    if not done:
        raise UsageError("no prune-rnn trial finished; see the store for the errors")
    rows = []
    for rec in done:
        for pt in rec["result"]["points"]:
            epochs = epochs_to_recover(pt, rec["result"]["base_accuracy"], config.tolerance)
            rows.append(
                {
                    "mode": rec["mode"],
                    "repeat": rec["repeat"],
                    "base_accuracy": rec["result"]["base_accuracy"],
                    "scope": pt["scope"],
                    "p": pt["p"],
                    "zero_fraction": pt["zero_fraction"],
                    "accuracy_pruned": pt["accuracy_pruned"],
                    "accuracy_retrained": " ".join(f"{a:.4f}" for a in pt["accuracy_retrained"]),
                    "epochs_to_recover": (
                        f">{len(pt['accuracy_retrained'])}" if epochs is None else epochs
                    ),
                }
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {
        "points": write_csv(out_dir / "points.csv", rows),
        "summary": write_csv(out_dir / "summary.csv", summarize(done, config.tolerance)),
    }
    written.update(_figures(done, out_dir))
    written["trials"] = f"{len(done)}/{len(records)} done"
    return written


def demo_step(out_dir: Path, store: TrialStore, seed: int) -> dict[str, str]:
    """Toy scale for ``hiddenstruct demo``: 400 strings, 2×16 units, p = 30/60/90 %, 1 retrain epoch."""
    config = PruneRNNConfig(
        n=400,
        embedding_dim=8,
        hidden_sizes=(16, 16),
        base_epochs=5,
        lr=1e-2,
        batch_size=64,
        percents=(0.3, 0.6, 0.9),
        retrain_epochs=1,
        seed=seed,
        modes=("RNN_RELU", "GRU"),
    )
    return run_prune_rnn(config, store, out_dir, progress=False)
