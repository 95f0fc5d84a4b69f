"""The trial runner of prune-rnn: train one mode's base model on Reber strings, then prune
every scope at every p from it (:mod:`.experiment` describes the protocol). It loads torch,
so the experiment imports it only when a trial runs."""

from __future__ import annotations

import copy
from typing import Any

from hiddenstruct.data.reber_torch import VOCAB_SIZE
from hiddenstruct.experiments.reber_inputs import overlap_result, reber_split_loaders, trial_dataset
from hiddenstruct.nn import MaskedRNN, SequenceClassifier
from hiddenstruct.nn.masking import load_state_dict
from hiddenstruct.pruning import percentile_prune
from hiddenstruct.stats import chance_level
from hiddenstruct.training import evaluate, resolve_device, retrain_hooks, train
from hiddenstruct.training.optim import make_optimizer
from hiddenstruct.trials.artifacts import save_pruning_level, save_state
from hiddenstruct.trials.executors import TrialLogger


def _model(cfg: dict[str, Any]):
    rnn = MaskedRNN(cfg["embedding_dim"], list(cfg["hidden_sizes"]), cfg["mode"])
    return SequenceClassifier(rnn, vocab_size=VOCAB_SIZE, num_classes=2)


def rnn_trial(cfg: dict[str, Any], log: TrialLogger) -> dict[str, Any]:
    """Train the base model of one mode, then prune every scope at every p from that base."""
    device = resolve_device(cfg.get("runtime", {}).get("device", "auto"))
    dataset = trial_dataset(
        cfg,
        n=cfg["reber_n"],
        seed=cfg["seed"],
        test_fraction=0.25,
        hard_fraction=cfg["hard_fraction"],
    )
    val_fraction = cfg.get("val_fraction", 0.0)  # 0: trials stored before 0.2.0
    train_loader, val_loader, test_loader = reber_split_loaders(
        dataset, cfg["batch_size"], test_batch_size=512, shuffle_seed=cfg["seed"],
        val_fraction=val_fraction, val_seed=cfg["seed"],
    )  # fmt: skip
    base = _model(cfg)
    history = train(
        base,
        train_loader,
        epochs=cfg["base_epochs"],
        optimizer="adam",
        lr=cfg["lr"],
        clip_grad_norm=cfg["clip_grad_norm"],
        val_loader=val_loader or test_loader,  # test: only the legacy val_fraction 0
        target_accuracy=cfg["target_accuracy"],
        device=device,
        progress=False,
    )
    base_curve = [e.val_accuracy for e in history.epochs]
    base_acc = evaluate(base, test_loader, device).accuracy
    # retraining stops once recovered on the validation strings (legacy val_fraction 0: on
    # the test strings, as before 0.2.0); the test accuracies are only recorded
    base_watched = base_acc if val_loader is None else evaluate(base, val_loader, device).accuracy

    def recovered(model, test_accuracy: float) -> bool:
        watched = (
            test_accuracy if val_loader is None else evaluate(model, val_loader, device).accuracy
        )
        return watched >= base_watched - cfg["tolerance"]

    chance = chance_level(test_loader.dataset.labels.tolist())
    state = copy.deepcopy(base.state_dict())
    if (path := log.artifact_file("base")) is not None:
        log.artifact("base", save_state(path, base))
    points = []
    iterative = cfg.get("rounds", "from-base") == "iterative"
    levels = sorted(cfg["percents"]) if iterative else cfg["percents"]
    for scope in cfg["scopes"]:
        model, done = None, 0.0
        for p in levels:
            if model is None or not iterative:
                model = _model(cfg)
                load_state_dict(model, copy.deepcopy(state))
                model.to(device)
                done = 0.0
            # iterative: the share of the remaining weights that takes the scope to p in all
            amount = (p - done) / (1.0 - done) if done < 1.0 else 0.0
            report = percentile_prune(
                model, amount, scope=scope, threshold=cfg.get("threshold", "per-tensor")
            )
            done = p
            optimizer = make_optimizer("adam", model.parameters(), cfg["lr"])
            train_epoch, accuracy = retrain_hooks(
                train_loader, test_loader, optimizer, device, cfg["clip_grad_norm"]
            )
            pruned_acc = accuracy(model)
            retrained = []
            back = recovered(model, pruned_acc)
            while len(retrained) < cfg["retrain_epochs"] and not back:
                train_epoch(model)
                retrained.append(accuracy(model))
                back = recovered(model, retrained[-1])
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
            name = f"{scope}_p{round(100 * p):03d}"
            if (path := log.artifact_file(name)) is not None:  # after retraining, if any
                log.artifact(name, save_pruning_level(path, model, state))
    return {
        "base_accuracy": base_acc,
        "chance_accuracy": chance,
        "base_epochs": len(base_curve),
        "base_curve": base_curve,  # validation accuracy per epoch (test when val_fraction is 0)
        "selected_on": "validation" if val_loader is not None else "test",
        "points": points,
        **overlap_result(dataset),
    }
