"""The experiment spine: configs drive CLI and TOML files, identities are stable, 0.1.0 stores resume."""

from __future__ import annotations

import dataclasses
import gzip
import shlex
import shutil
import sqlite3
from pathlib import Path

import pytest

from hiddenstruct.cli.main import main
from hiddenstruct.errors import UsageError
from hiddenstruct.experiments.registry import EXPERIMENTS, get_experiment, make_config
from hiddenstruct.trials.config import (
    added_defaults,
    field_specs,
    load_toml,
    resolve_config,
    setting,
)
from hiddenstruct.trials.identity import identity_body, trial_identity
from hiddenstruct.trials.store import TrialStore

DATA = Path(__file__).parent / "data"

# first trial of each experiment's small preset; a change here renames users' stored trials
GOLDEN = {
    "prune-ffn": "880d8b655f869b5ee64ee63d973e516662996735f9fcdcca5558709eea83c72f",
    "prune-rnn": "c7d9bce9b107fdbd516cf545330a5a25a7fe25de37d0660577237e7bf745d201",
    "priors-rnn": "7f626f4ad6a8bc341f283036b96d58f96460243ec98989f2b4c248627ceeb8a6",
    "nas": "f7b88418391022c59c79c259e09e462145d00f7406254af0ec908c48a704e747",
    "sparse-routes": "c0a934e007797a0bd24ba7ef25b797379c8157a047647e348c983fc6ed8e05c7",
    "relational-graphs": "304b2ea1076f781a5d842e8901f8565846ff27ad80e25e6f56e4120330cd217b",
}
# settings in the identity of a prune trial; a field added without `added=True` shows up here
IDENTITY_KEYS = {
    "prune-ffn": {
        "dataset", "relative_p", "fixed_fraction", "max_zero_fraction", "retrain_epochs",
        "optimizer", "lr", "retrain_lr", "batch_size", "epochs", "lr_decay", "patience",
        "obd_samples", "obd_method", "train_subset", "hidden", "method", "schedule", "retrain",
        "repeat", "seed",
    },
    "prune-rnn": {
        "scopes", "percents", "reber_n", "hard_fraction", "embedding_dim", "hidden_sizes", "lr",
        "batch_size", "clip_grad_norm", "base_epochs", "target_accuracy", "retrain_epochs",
        "tolerance", "mode", "repeat", "seed",
    },
}  # fmt: skip


# defaults changed in 0.2.0 (unique Reber strings, a validation split for model selection):
# the old values given explicitly keep the old identities; the new defaults are new trials
OLD_DEFAULTS = {
    "prune-rnn": {"unique": None, "val_fraction": 0.0},
    "priors-rnn": {"unique": None},
    "sparse-routes": {"unique": None},
}


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_golden_identity(name):
    experiment, old = get_experiment(name), OLD_DEFAULTS.get(name, {})
    before = experiment.identities(make_config(name, **old))
    assert before[0] == GOLDEN[name]
    if old:  # the changed defaults make new trials (sparse-routes: its Reber ones)
        assert experiment.identities(make_config(name)) != before


@pytest.mark.parametrize("name", ["prune-ffn", "prune-rnn", "sparse-routes"])
def test_a_changed_default_keeps_the_old_identity_for_the_old_value(name):
    experiment = get_experiment(name)

    @dataclasses.dataclass(frozen=True)
    class Changed(experiment.config_type):  # a field whose default went from 3 to 4
        later_setting: int = setting(4, "default changed after trials were stored", legacy=3)

    base = experiment.identities(experiment.config_type())
    assert experiment.identities(Changed(later_setting=3)) == base
    assert not set(experiment.identities(Changed())) & set(base)


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_threads_other_than_one_are_part_of_identity(name):
    # torch's CPU kernels give last-bit differences between thread counts, so a trial is
    # reproducible only at its own count: threads 1 is the stored identity, 2 a new trial
    experiment = get_experiment(name)
    one = experiment.identities(make_config(name, threads=1))
    assert experiment.identities(make_config(name)) == one
    assert not set(experiment.identities(make_config(name, threads=2))) & set(one)


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_adding_a_defaulted_field_renames_no_trial(name):
    experiment = get_experiment(name)

    @dataclasses.dataclass(frozen=True)
    class Extended(experiment.config_type):
        later_setting: int = setting(3, "a setting added after trials were stored", added=True)

    base = experiment.identities(experiment.config_type())
    assert experiment.identities(Extended()) == base
    if name in IDENTITY_KEYS:  # the field reaches the trial: a non-default value is a new trial
        assert experiment.identities(Extended(later_setting=4)) != base
        (first, *_) = experiment.trials(experiment.config_type(**OLD_DEFAULTS.get(name, {})))
        # fields declared added=True are left out at their default (or legacy value), as in
        # trial_identity
        assert (
            set(identity_body(first, added_defaults(experiment.config_type))) == IDENTITY_KEYS[name]
        )


def test_paths_and_device_are_not_identity_but_the_experiment_is(tmp_path):
    experiment = get_experiment("prune-ffn")
    here = experiment.identities(experiment.config_type(device="cpu"))
    assert (
        experiment.identities(experiment.config_type(device="auto", data_dir=str(tmp_path))) == here
    )
    assert trial_identity("prune-ffn", {"lr": 0.1}) != trial_identity("prune-rnn", {"lr": 0.1})


def _print_config(capsys, argv) -> str:
    capsys.readouterr()
    assert main(["experiment", *argv, "--print-config"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "name, options",
    [
        ("prune-ffn", "--preset paper --architectures 20-10 --retrain yes --train-subset 500"),
        ("prune-rnn", "--modes GRU LSTM --reber-n 300 --target-accuracy none --seed 4"),
        ("priors-rnn", "--preset demo --families er --clip 2 --orientation random"),
        ("nas", "--preset paper --searches random --time-budget 60 --device cpu"),
        ("sparse-routes", "--preset demo --routes set rigl --densities 0.1 0.05 --seed 3"),
    ],
)
def test_print_config_round_trip(tmp_path, capsys, name, options):
    text = _print_config(capsys, [name, *shlex.split(options)])
    path = tmp_path / "run.toml"
    path.write_text(text)
    assert _print_config(capsys, [name, "--config", str(path)]) == text
    from hiddenstruct.cli.experiment import resolve_from_args
    from hiddenstruct.cli.main import build_parser

    experiment = get_experiment(name)
    given = resolve_from_args(
        experiment, build_parser().parse_args(["experiment", name, *shlex.split(options)])
    )
    from_file = resolve_config(
        experiment.config_type, experiment.presets, "small", load_toml(path), {}
    )
    assert from_file == given
    assert experiment.identities(from_file) == experiment.identities(given)
    assert experiment.identities(given) != experiment.identities(
        experiment.config_type()
    )  # options mattered
    if name == "prune-rnn":
        assert given.target_accuracy is None and given.reber_n == 300  # `none` is a value
    from_cli = _print_config(capsys, [name, "--config", str(path), "--seed", "9"])
    assert "seed = 9" in from_cli  # explicit options override the file


def test_precedence_preset_file_options(tmp_path):
    experiment = get_experiment("prune-ffn")
    path = tmp_path / "c.toml"
    path.write_text('preset = "paper"\nepochs = 7\nrelative-p = 0.3\n')
    config = resolve_config(
        experiment.config_type, experiment.presets, "paper", load_toml(path), {"epochs": 9}
    )
    assert (config.optimizer, config.epochs, config.relative_p) == ("sgd", 9, 0.3)


@pytest.mark.parametrize(
    "content, expected",
    [
        ("epochz = 3\n", "unknown config key 'epochz'; valid keys: preset, dataset"),
        ('epochs = "three"\n', "config key 'epochs': expected int"),
        ("relative_p = 1.5\n", "--relative-p: got 1.5; must be in (0, 1]"),
        ('methods = ["magic"]\n', "--methods: got 'magic'; valid: random"),
        ("epochs = [", "cannot read config file"),
        # fields with a CLI parser: the same checks as on the command line, never a traceback
        ('retrain = "sometimes"\n', "config key 'retrain': expected one of both, yes, no"),
        ('retrain = ["x"]\n', "config key 'retrain': expected bool"),
        ('architectures = ["3-x"]\n', "config key 'architectures': expected hidden sizes"),
        ("architectures = [[0]]\n", "--architectures: got 0; must be >= 1"),
        ("architectures = [[]]\n", "config key 'architectures': expected a list of integers"),
    ],
)
def test_bad_config_files_are_usage_errors(tmp_path, capsys, content, expected):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    assert main(["experiment", "prune-ffn", "--config", str(path), "--print-config"]) == 2
    assert expected in capsys.readouterr().err


def test_old_option_names_are_hidden_aliases(capsys):
    pairs = [
        ("prune-rnn", "--n 80", "--reber-n 80"),
        ("priors-rnn", "--clip 2", "--clip-grad-norm 2"),
        ("nas", "--mutation 0.3 --crossover 0.1 --remove-worst 0.2",
         "--mutation-probability 0.3 --crossover-probability 0.1 --remove-worst-probability 0.2"),
    ]  # fmt: skip
    for name, old, new in pairs:
        assert _print_config(capsys, [name, *old.split()]) == _print_config(
            capsys, [name, *new.split()]
        )
        with pytest.raises(SystemExit):
            main(["experiment", name, "--help"])
        shown = capsys.readouterr().out
        assert old.split()[0] + " " not in shown and new.split()[0] in shown


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_help_lists_every_field_with_default_and_paper_value(capsys, name):
    experiment = get_experiment(name)
    with pytest.raises(SystemExit):
        main(["experiment", name, "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    paper = experiment.config_type(**experiment.presets["paper"])
    for spec in field_specs(experiment.config_type):
        assert spec.option in shown
        if getattr(paper, spec.name) != spec.default:
            assert "paper:" in shown
    assert "--config" in shown and "--print-config" in shown and "--device" in shown


def test_unavailable_device_is_a_usage_error():
    from hiddenstruct.training.seeding import resolve_device

    with pytest.raises(UsageError, match="CUDA device"):
        resolve_device("cuda:97")
    with pytest.raises(SystemExit):
        main(["experiment", "prune-rnn", "--device", "gpu", "--print-config"])


# ---- a store written by 0.1.0 (tests/experiments/data/store-v0.1.0.commands.sh wrote it) -----
# the 0.1.0 defaults that 0.2.0 changed, given explicitly: the old trials, not new ones
OLD_DEFAULT_OPTIONS = {
    "prune-rnn": ["--unique", "none", "--val-fraction", "0"],
    "priors-rnn": ["--unique", "none"],
}


def _commands() -> list[list[str]]:
    lines = (DATA / "store-v0.1.0.commands.sh").read_text().splitlines()
    commands = [
        shlex.split(line.split("-m hiddenstruct ", 1)[1]) for line in lines if "$PY" in line
    ]
    return [argv + OLD_DEFAULT_OPTIONS.get(argv[1], []) for argv in commands]


def test_v010_command_lines_with_todays_defaults_are_new_trials(tmp_path):
    path = _v010_store(tmp_path)
    rnn = next(argv for argv in _commands() if argv[1] == "prune-rnn")
    _run(rnn[: -len(OLD_DEFAULT_OPTIONS["prune-rnn"])], path, tmp_path / "out")
    (old, new) = sorted(TrialStore(path).trials("prune-rnn"), key=lambda r: "unique" in r.config)
    assert "unique" not in old.config and new.config["unique"] is True
    assert new.result["test_in_train"] == 0.0 and new.result["selected_on"] == "validation"


def _v010_store(tmp_path) -> Path:
    path = tmp_path / "old.sqlite"
    with gzip.open(DATA / "store-v0.1.0.sqlite.gz") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def _run(argv: list[str], store: Path, out: Path) -> None:
    argv = [str(store) if a == "$1" else a for a in argv]
    argv = [str(out) + a[2:] if a.startswith("$2") else a for a in argv]
    assert main(argv) == 0


def test_v010_store_resumes_without_rerunning(tmp_path):
    path = _v010_store(tmp_path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        before = conn.execute("SELECT experiment, attempts, finished_at FROM trials").fetchall()
    for argv in _commands():
        _run(argv, path, tmp_path / "out")
    store = TrialStore(path)
    after = [(r.experiment, r.attempts, r.finished_at) for r in store.trials()]
    assert sorted(after) == sorted(before)  # nothing re-run, no new trial (no base retrained)
    assert (tmp_path / "old.sqlite.v1.bak").is_file()
    with sqlite3.connect(tmp_path / "old.sqlite.v1.bak") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    (rnn,) = store.trials("prune-rnn")
    assert rnn.config["reber_n"] == 40 and "n" not in rnn.config  # renamed setting migrated


def test_same_results_as_v010_for_the_same_seed(tmp_path):
    old = TrialStore(_v010_store(tmp_path))
    fresh = tmp_path / "fresh.sqlite"
    for argv in _commands()[:2]:  # prune-ffn and prune-rnn
        _run(argv, fresh, tmp_path / "out")
    new = TrialStore(fresh)
    for experiment in ("prune-ffn", "prune-rnn"):
        then = {r.hash: r.result for r in old.trials(experiment)}
        now = {r.hash: r.result for r in new.trials(experiment)}
        assert then.keys() == now.keys() and len(now) >= 1
        # every 0.1.0 value is unchanged; new keys only add (the chance level, the data's
        # checksum and train/test overlap)
        added = {
            "chance_accuracy",
            "data_checksum",
            "test_in_train",
            "shared_strings",
            "duplicate_rows",
            "selected_on",  # prune-rnn: where the base model was selected (since 0.2.0)
        }
        for key, result in then.items():
            assert {k: now[key][k] for k in result} == result
            assert set(now[key]) - set(result) <= added


def test_workers_share_one_base_model(tmp_path):
    from hiddenstruct.experiments.prune_ffn.experiment import BASE_EXPERIMENT, EXPERIMENT, PRUNE_FFN
    from hiddenstruct.trials.executors import ProcessPoolExecutor

    config = make_config(
        "prune-ffn", architectures=((4,),), methods=("random", "class_blinded"), repeats=1,
        epochs=1, train_subset=64, obd_samples=8, retrain=(False,), max_zero_fraction=0.5,
        relative_p=0.5,
    )  # fmt: skip
    store = TrialStore(tmp_path / "s.sqlite")
    records = PRUNE_FFN.sweep(config, store, ProcessPoolExecutor(2), progress=False)
    assert [r.status for r in records] == ["done", "done"]
    (base,) = store.trials(BASE_EXPERIMENT)
    assert base.attempts == 1
    assert {r.result["base_accuracy"] for r in store.trials(EXPERIMENT)} == {
        base.result["test_accuracy"]
    }


# command lines of 0.1.0's README.md and docs/ (options only); each must still resolve
V010_COMMAND_LINES = [
    ("prune-ffn --dataset mnist --data-dir DIR --repeats 3 --workers 2", {"repeats": 3}),
    ("prune-ffn --dataset mnist --data-dir DIR --architectures 300-100 --methods class_blinded "
     "random --retrain yes --workers 2", {"architectures": ((300, 100),), "retrain": (True,)}),
    ("prune-rnn --modes GRU LSTM", {"modes": ("GRU", "LSTM")}),
    ("prune-rnn --n 25000 --hard-fraction 0.5", {"reber_n": 25000}),
    ("priors-rnn --preset paper --modes GRU", {"modes": ("GRU",), "count": 100}),
    ("priors-rnn --preset demo --families ws ba er --count 4 --n-min 10 --n-max 50 --epochs 15 "
     "--batch-size 128 --lr 1e-3 --clip 5 --reber-n 25000 --hard-fraction 0.5 "
     "--test-fraction 0.25 --seed 0 --pack-size 8 --threads 1 --orientation labels",
     {"clip_grad_norm": 5.0, "families": ("watts_strogatz", "barabasi_albert", "erdos_renyi")}),
    ("nas", {"population": 10}),
    ("nas --dataset cifar10 --data-dir DIR --train-subset 5000 --val-subset 1000 --epochs 2",
     {"train_subset": 5000}),
    ("nas --preset paper --dataset cifar10 --data-dir DIR --workers 4", {"population": 30}),
]  # fmt: skip


@pytest.mark.parametrize("line, expected", V010_COMMAND_LINES)
def test_v010_command_lines_still_resolve(tmp_path, line, expected):
    from hiddenstruct.cli.experiment import resolve_from_args
    from hiddenstruct.cli.main import build_parser

    argv = ["experiment", *shlex.split(line.replace("DIR", str(tmp_path)))]
    args = build_parser().parse_args(argv)
    config = resolve_from_args(get_experiment(argv[1]), args)
    assert {k: getattr(config, k) for k in expected} == expected


def test_v1_nas_and_dict_rows_are_rekeyed_to_current_identities(tmp_path):
    """A 0.1.0 nas row (data_dir at top level, bare-config hash) gets today's identity."""
    import json

    from hiddenstruct.experiments.nas.experiment import EXPERIMENT, trial_settings
    from hiddenstruct.trials.hashing import config_hash

    config = make_config("nas", dataset="cifar10", data_dir=str(tmp_path))
    now = {**trial_settings(config, "random"), "genotype": {"nodes": []}}
    old = {k: v for k, v in now.items() if k != "runtime"} | {"data_dir": str(tmp_path)}
    path = tmp_path / "v1.sqlite"
    TrialStore(path).close()
    with sqlite3.connect(path) as conn:  # written the way 0.1.0 wrote it
        conn.execute("DELETE FROM trials")
        conn.execute(
            "INSERT INTO trials (hash, experiment, config, status, result, attempts) "
            "VALUES (?, ?, ?, 'done', '{}', 1)",
            (config_hash(old), EXPERIMENT, json.dumps(old)),
        )
        conn.execute("PRAGMA user_version = 1")
    (record,) = TrialStore(path).trials()
    assert record.hash == trial_identity(EXPERIMENT, now) != config_hash(old)
    assert record.status == "done" and record.attempts == 1


def test_help_spells_parsed_defaults_as_the_cli_does(capsys):
    with pytest.raises(SystemExit):
        main(["experiment", "prune-ffn", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "(default: both)" in shown and "default: false true" not in shown


# settings that shape a sweep but not what one trial computes (so not in any trial's identity)
NOT_PER_TRIAL = {
    "prune-ffn": {"dataset"},  # mnist needs --data-dir; covered by the golden identity
    "prune-rnn": set(),
    "priors-rnn": {"pack_size"},  # how trials are batched, not what each one computes
    "nas": {
        "dataset",
        "population",
        "generations",
        "mutation_probability",
        "crossover_probability",
        "remove_worst_probability",
        "estimation_fraction",
        "min_measured",
        "min_depth",
        "max_depth",
        "random_min_depth",
        "random_max_depth",
        "time_budget",
        "predictor",
        "mutations",
        "test_fraction",  # the predictor's hold-out: read when writing outputs
        "predictor_cv",
    },  # fmt: skip  (search settings: a candidate is its genotype plus its training settings)
    "sparse-routes": {"trajectory_property"},  # which property the figure draws
    "relational-graphs": set(),
}


def _another_value(spec, paper):
    """A valid value of a field other than its default (the paper's where it differs)."""
    default, choices = spec.default, spec.metadata.get("choices")
    if spec.name in paper and paper[spec.name] != default:
        return paper[spec.name]
    if spec.nested:
        return ((7,),)
    if spec.is_tuple and choices:
        others = [c for c in choices if c not in default]
        return (others[0],) if others else default[:1]
    if spec.is_tuple:
        return default[:1] if len(default) > 1 else (default[0] * 2,)
    if choices:
        return next(c for c in choices if c != default)
    if spec.scalar is bool:
        return not default
    if spec.scalar is int:
        return (default or 1) + 1
    return (default or 0.5) * 0.9


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_setting_a_trial_computes_with_is_in_its_identity(name):
    """A field that is neither runtime nor listed above must reach the trials it changes:
    otherwise changing it would silently reuse results computed with the old value."""
    experiment = get_experiment(name)
    base = experiment.identities(experiment.config_type())
    for spec in field_specs(experiment.config_type):
        if spec.metadata.get("hiddenstruct.runtime") or spec.name in NOT_PER_TRIAL[name]:
            continue
        changed = dataclasses.replace(
            experiment.config_type(),
            **{spec.name: _another_value(spec, experiment.presets["paper"])},
        )
        assert experiment.identities(changed) != base, f"{name}: {spec.name} is not in the identity"


def test_missing_device_fails_before_any_trial_runs(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    argv = ["experiment", "prune-rnn", "--modes", "GRU", "--scopes", "both", "--percents", "0.5",
            "--reber-n", "40", "--hidden-sizes", "2", "--embedding-dim", "2", "--base-epochs", "1",
            "--retrain-epochs", "0", "--device", "cuda:97", "--store", str(store),
            "--output", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 2
    assert "'cuda:97' requested" in capsys.readouterr().err
    assert not store.exists()  # nothing written


def test_stores_record_the_versions_that_wrote_them(tmp_path):
    import hiddenstruct
    from hiddenstruct.trials.store_checks import check_store

    path = _v010_store(tmp_path)
    assert check_store(path).writers == ()  # 0.1.0 kept no such record
    TrialStore(path).close()  # migrates, then records this version
    assert check_store(path).writers == (hiddenstruct.__version__,)
    with sqlite3.connect(tmp_path / "old.sqlite.v1.bak") as conn:  # the backup stays 0.1.0's
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "writers" not in tables
    fresh = tmp_path / "fresh.sqlite"
    TrialStore(fresh).close()
    TrialStore(fresh).close()  # one row per version, however often it is opened
    assert check_store(fresh).writers == (hiddenstruct.__version__,)
    assert main(["results", "check", "--store", str(fresh)]) == 0
