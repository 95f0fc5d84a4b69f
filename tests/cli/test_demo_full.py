"""The whole `hiddenstruct demo` (what `make demo` runs): every step stores trials and figures,
and every model it trains beats chance by a clear margin (docs/experiments.md, demo presets since 0.2.0).

The margins are checked on the trial store the demo wrote (never its printed text). Reber
models (chance 0.5) reach 0.85 test accuracy, digits models (chance 0.1) 0.9 before pruning
(relational-graphs: its MLP 0.9, its GRU 0.85), every sparse-routes route 0.8 at its density,
every priors graph (WS and BA) 0.85; in NAS the best candidate reaches 0.9 and every candidate
with a convolution beats three times chance (a candidate with none cannot learn: the
phenotype's head averages its one input channel, phenotype.py; such candidates are left to
the search).
"""

from __future__ import annotations

import base64
import statistics

from hiddenstruct.cli.main import main
from hiddenstruct.experiments.demo import DEMO_STEPS, run_demo
from hiddenstruct.trials.executors import run_trials
from hiddenstruct.trials.store import TrialStore

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

REBER_MIN = 0.85  # chance 0.5 (balanced classes)
DIGITS_MIN = 0.9  # chance 0.1 (ten about balanced classes)
ROUTE_MIN = 0.8  # LeNet (chance 0.1) and the Reber GRU (chance 0.5) at the demo's density
PRIOR_MIN, PRIOR_FAMILY_MEAN = 0.85, 0.85
NAS_BEST, NAS_CONV_MIN = 0.9, 0.3


def _done(store: TrialStore, experiment: str):
    records = store.trials(experiment)
    assert records, f"the demo stored no {experiment} trial"
    assert all(r.status == "done" for r in records), f"a {experiment} trial did not finish"
    return records


def below_margin(store: TrialStore) -> list[str]:
    """One line per demo model that does not clear its margin (empty: all learn)."""
    low = []
    experiments = set(store.experiments())
    for record in _done(store, "demo-reber-rnn") if "demo-reber-rnn" in experiments else []:
        if record.result["test_accuracy"] < REBER_MIN or record.result["test_in_train"] > 0:
            low.append(f"reber-rnn: {record.result['test_accuracy']:.3f}")
    for record in _done(store, "prune-ffn-base") if "prune-ffn-base" in experiments else []:
        if record.result["test_accuracy"] < DIGITS_MIN:
            low.append(
                f"prune-ffn base {record.config['hidden']}: {record.result['test_accuracy']}"
            )
    for record in _done(store, "prune-rnn") if "prune-rnn" in experiments else []:
        result = record.result
        if result["base_accuracy"] < REBER_MIN or result.get("selected_on") != "validation":
            low.append(f"prune-rnn {record.config['mode']}: {result['base_accuracy']:.3f}")
        if result["test_in_train"] > 0:
            low.append(f"prune-rnn {record.config['mode']}: test strings in train")
    if "priors-rnn" in experiments:
        families: dict[str, list[float]] = {}
        for record in _done(store, "priors-rnn"):
            families.setdefault(record.config["family"], []).append(record.result["test_acc"])
        assert set(families) == {"watts_strogatz", "barabasi_albert"}
        for family, accuracies in families.items():
            low += [f"priors {family}: {a:.3f}" for a in accuracies if a < PRIOR_MIN]
            if statistics.mean(accuracies) < PRIOR_FAMILY_MEAN:
                low.append(f"priors {family} mean: {statistics.mean(accuracies):.3f}")
    for record in _done(store, "sparse-routes") if "sparse-routes" in experiments else []:
        if record.result["test_accuracy"] < ROUTE_MIN:
            name = f"{record.config['model']} {record.config['route']} {record.config['density']}"
            low.append(f"sparse-routes {name}: {record.result['test_accuracy']:.3f}")
    if "nas" in experiments:
        records = _done(store, "nas")
        best = max(r.result["max_val_accuracy"] for r in records)
        if best < NAS_BEST:
            low.append(f"nas best: {best:.3f}")
        for record in records:
            convs = sum("conv" in v["op"] for v in record.config["genotype"]["vertices"])
            if convs and record.result["max_val_accuracy"] < NAS_CONV_MIN:
                low.append(f"nas candidate {record.hash[:8]}: {record.result['max_val_accuracy']}")
    for record in _done(store, "relational-graphs") if "relational-graphs" in experiments else []:
        accuracy = 1 - record.result["error"] / 100  # error in %
        floor = DIGITS_MIN if record.config["model"] == "mlp" else REBER_MIN
        if accuracy < floor:
            low.append(f"relational-graphs {record.config['model']}: {accuracy:.3f}")
    return low


def test_the_margins_fail_a_model_at_chance(tmp_path):
    store = TrialStore(tmp_path / "store.sqlite")

    def at_chance(config, log):
        return {"test_accuracy": 0.5, "test_in_train": 0.0}

    run_trials("demo-reber-rnn", [{"seed": 0}], at_chance, store, progress=False)
    assert below_margin(store) == ["reber-rnn: 0.500"]


def test_the_reber_demo_steps_learn_without_leaks(tmp_path):
    store = tmp_path / "store.sqlite"
    run_demo(tmp_path / "out", store, only=["reber-rnn", "prune-rnn"])
    assert below_margin(TrialStore(store)) == []
    assert (tmp_path / "out" / "demo_timings.csv").read_text().startswith("step,wall_seconds")


def test_full_demo_writes_every_step_and_a_self_contained_report(tmp_path):
    out, store_path = tmp_path / "demo", tmp_path / "store.sqlite"
    assert main(["demo", "--output", str(out), "--store", str(store_path)]) == 0

    report = (out / "report.html").read_text()
    for title, _ in DEMO_STEPS:
        figures = sorted((out / title).glob("*.png"))
        assert figures, f"demo step {title} wrote no figure"
        for figure in figures:
            data = figure.read_bytes()
            assert data[:8] == PNG_MAGIC
            assert base64.b64encode(data).decode() in report  # embedded, not linked

    frame = TrialStore(store_path).to_dataframe()
    assert len(frame) and set(frame["status"]) == {"done"}
    assert len(set(frame["experiment"])) >= len(DEMO_STEPS)
    assert below_margin(TrialStore(store_path)) == []
    assert {"prune-ffn-base", "priors-rnn", "nas", "sparse-routes"} <= set(frame["experiment"])
    assert (out / "demo_timings.csv").read_text().startswith("step,wall_seconds,cpu_seconds")
