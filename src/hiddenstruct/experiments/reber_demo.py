"""Foundation demo step: a small recurrent classifier learns the Reber grammar.

Generates a small Reber dataset, trains ``Embedding → MaskedRNN (GRU) → Linear`` for a few
epochs as one stored trial (a rerun finds it ``done`` and skips the training), and writes a
learning-curve PNG and a CSV of the per-epoch metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hiddenstruct.errors import HiddenstructError
from hiddenstruct.experiments.reber_inputs import (
    overlap_result,
    reber_loaders,
    trial_dataset,
    write_overlap,
)
from hiddenstruct.outputs import write_csv
from hiddenstruct.trials.executors import TrialLogger, run_trials
from hiddenstruct.trials.store import TrialStore

EXPERIMENT = "demo-reber-rnn"

DEMO_CONFIG: dict[str, Any] = {
    "n": 1600,
    "unique": True,  # no test string in train (absent: the i.i.d. draws before 0.2.0)
    "hard_fraction": 0.5,
    "mode": "GRU",
    "embedding_dim": 8,
    "hidden_sizes": [32],
    "epochs": 5,
    "batch_size": 32,
    "lr": 0.01,
    "clip_grad_norm": 1.0,
}


def reber_trial(config: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
    """Train a recurrent Reber classifier; log per-epoch metrics; return final and curve metrics."""
    from hiddenstruct.nn import MaskedRNN, SequenceClassifier
    from hiddenstruct.training import evaluate, train

    dataset = trial_dataset(
        config,
        n=config["n"],
        seed=config["seed"],
        test_fraction=0.25,
        hard_fraction=config["hard_fraction"],
    )
    loader, test_loader = reber_loaders(
        dataset,
        config["batch_size"],
        test_batch_size=256,
        shuffle_seed=None,  # 0.1.0's order
    )
    model = SequenceClassifier(
        MaskedRNN(config["embedding_dim"], config["hidden_sizes"], config["mode"])
    )

    def record(metrics, _model) -> None:
        log.metric(
            metrics.epoch,
            train_loss=metrics.train_loss,
            train_accuracy=metrics.train_accuracy,
            test_loss=metrics.val_loss,
            test_accuracy=metrics.val_accuracy,
        )

    # fixed epochs, no model selection: the test curve is only drawn
    history = train(
        model,
        loader,
        epochs=config["epochs"],
        optimizer="adam",
        lr=config["lr"],
        clip_grad_norm=config["clip_grad_norm"],
        val_loader=test_loader,
        callbacks=[record],
    )
    final = evaluate(model, test_loader)
    return {
        "test_accuracy": final.accuracy,
        "test_loss": final.loss,
        "train_accuracy": history.final.train_accuracy,
        "epochs_run": len(history.epochs),
        "train_seconds": history.seconds,
        "curve": history.to_dicts(),
        **overlap_result(dataset),
    }


def _plot_curve(rows: list[dict[str, float]], path: Path) -> Path:
    from matplotlib.ticker import MaxNLocator

    from hiddenstruct.experiments.figures import (
        chance_line,
        legend_below,
        new_figure,
        save_figure,
        series_style,
        styled,
    )

    epochs = [row["epoch"] for row in rows]
    with styled():
        fig, axes = new_figure(8.4, 4.6)
        ax = axes[0][0]
        ax.plot(epochs, [r["train_accuracy"] for r in rows], label="train", **series_style(0))
        ax.plot(epochs, [r["val_accuracy"] for r in rows], label="test", **series_style(1))
        chance_line(ax, 0.5)  # the balanced Reber test set
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy")
        ax.set_ylim(0.4, 1.01)
        ax.set_title("Reber grammar, GRU classifier")
        legend_below(fig, ax)
        return save_figure(fig, path)[0]


def demo_step(out_dir: Path, store: TrialStore, seed: int, threads: int = 1) -> dict[str, str]:
    """Train (or reuse) the demo trial; write ``learning_curve.png`` and ``learning_curve.csv``."""
    config = {**DEMO_CONFIG, "seed": seed, "threads": threads}  # threads: identity unless 1
    (record,) = run_trials(EXPERIMENT, [config], reber_trial, store, added={"threads": 1})
    if record.status != "done":
        raise HiddenstructError(f"the Reber demo trial failed:\n{record.error}")
    rows = record.result["curve"]
    figure = _plot_curve(rows, Path(out_dir) / "learning_curve.png")
    table = write_csv(Path(out_dir) / "learning_curve.csv", rows)

    return {
        **write_overlap([record.result], Path(out_dir)),
        "learning curve": str(figure),
        "per-epoch table": str(table),
        "trial": f"{record.hash[:12]} (attempt {record.attempts})",
        "test accuracy": f"{record.result['test_accuracy']:.3f}",
    }
