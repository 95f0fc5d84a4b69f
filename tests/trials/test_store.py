"""Trial store: hashing rules, life cycle, export frame, errors, concurrent writers."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiddenstruct.errors import HiddenstructError, UsageError
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.migration import SCHEMA_VERSION
from hiddenstruct.trials.store import (
    TrialStore,
    added_field,
    config_hash,
    hashable_config,
)

GOLDEN_CONFIG = {"lr": 0.1, "seed": 0, "hidden": [4, 8], "name": "x", "nested": {"b": 1, "a": True}}
# Fixed forever: if this changes, every stored trial would be renamed and re-run.
GOLDEN_HASH = "201707cb1289bf775539a3754b47ae18b9b533a6e215bffa76626c67f6f92c6c"
# = sha256(b'{"hidden":[4,8],"lr":0.1,"name":"x","nested":{"a":true,"b":1},"seed":0}')


def test_golden_hash_is_stable():
    assert config_hash(GOLDEN_CONFIG) == GOLDEN_HASH


def test_hash_ignores_key_order_but_not_values():
    shuffled = {"nested": {"a": True, "b": 1}, "name": "x", "hidden": [4, 8], "seed": 0, "lr": 0.1}
    assert config_hash(shuffled) == GOLDEN_HASH
    assert config_hash({**GOLDEN_CONFIG, "lr": 0.2}) != GOLDEN_HASH
    assert config_hash({**GOLDEN_CONFIG, "hidden": [8, 4]}) != GOLDEN_HASH


@dataclass(frozen=True)
class ConfigV1:
    lr: float = 0.1
    seed: int = 0


@dataclass(frozen=True)
class ConfigV2:
    lr: float = 0.1
    seed: int = 0
    dropout: float = added_field(0.0, help="added in v2")
    layers: tuple[int, ...] = added_field(default_factory=lambda: (4, 4))


@dataclass(frozen=True)
class ConfigV2Plain:
    lr: float = 0.1
    seed: int = 0
    dropout: float = 0.0


def test_added_field_at_default_keeps_old_hash():
    assert config_hash(ConfigV2()) == config_hash(ConfigV1())
    assert config_hash(ConfigV2(lr=0.5, seed=3)) == config_hash(ConfigV1(lr=0.5, seed=3))
    assert config_hash(ConfigV2(dropout=0.5)) != config_hash(ConfigV1())
    assert config_hash(ConfigV2(layers=(8,))) != config_hash(ConfigV1())
    # a plainly declared new field does change the hash: that is why added_field exists
    assert config_hash(ConfigV2Plain()) != config_hash(ConfigV1())


def test_dataclass_and_equal_dict_hash_alike():
    assert config_hash(ConfigV1(lr=0.3)) == config_hash({"lr": 0.3, "seed": 0})


def test_dict_defaults_rule():
    old = {"lr": 0.1}
    assert config_hash({"lr": 0.1, "momentum": 0.0}, defaults={"momentum": 0.0}) == config_hash(old)
    assert config_hash({"lr": 0.1, "momentum": 0.9}, defaults={"momentum": 0.0}) != config_hash(old)
    assert hashable_config({"lr": 0.1, "momentum": 0.0}, {"momentum": 0.0}) == {"lr": 0.1}


def test_added_field_requires_default():
    with pytest.raises(UsageError):
        added_field()


@pytest.mark.parametrize("bad", [{"lr": float("nan")}, {"f": object()}, [1, 2]])
def test_bad_configs_raise(bad):
    with pytest.raises(UsageError):
        config_hash(bad)


def test_life_cycle_and_claim_rules(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    h = store.register("exp", {"lr": 0.1})
    assert h == trial_identity("exp", {"lr": 0.1})  # identity = experiment + config
    assert store.register("exp", {"lr": 0.1}) == h  # idempotent
    assert store.get(h).status == "pending"
    assert store.claim(h) == 1
    store.log_metrics(h, [(0, "loss", 1.0)])
    # interrupted: a second claim re-runs it and drops the first attempt's metrics
    assert store.claim(h) == 2
    assert store.metrics(h) == []
    store.finish(h, {"accuracy": 0.9}, metrics=[(1, "loss", 0.5)], artifacts={"fig": "a.png"})
    rec = store.get(h)
    assert (rec.status, rec.result, rec.attempts) == ("done", {"accuracy": 0.9}, 2)
    assert rec.seconds is not None and rec.seconds >= 0
    assert store.metrics(h) == [(1, "loss", 0.5)]
    assert store.artifacts(h) == {"fig": "a.png"}
    assert store.claim(h) is None  # done trials never re-run
    g = store.register("exp", {"lr": 0.2})
    store.claim(g)
    store.fail(g, "boom")
    assert store.get(g).error == "boom"
    assert store.claim(g, retry_failed=False) is None
    assert store.claim(g) == 2
    assert [r.hash for r in store.trials("exp")] == [h, g]
    assert [r.hash for r in store.trials(status="running")] == [g]
    assert store.experiments() == ["exp"]
    with pytest.raises(UsageError, match="pending"):
        store.trials(status="bogus")
    with pytest.raises(UsageError, match="unknown trial"):
        store.claim("0" * 64)


def test_to_dataframe_flattens_config_and_result(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    for lr in (0.1, 0.2):
        h = store.register("a", {"lr": lr, "model": {"hidden": [3, 4]}})
        store.claim(h)
        store.finish(h, {"acc": lr * 2, "curve": [0.1, 0.2]})
    store.register("b", {"x": 1})
    frame = store.to_dataframe("a")
    assert len(frame) == 2
    assert list(frame["config.lr"]) == [0.1, 0.2]
    assert list(frame["result.acc"]) == [0.2, 0.4]
    assert json.loads(frame["config.model.hidden"][0]) == [3, 4]
    assert json.loads(frame["result.curve"][1]) == [0.1, 0.2]
    assert set(frame["status"]) == {"done"}
    assert len(store.to_dataframe()) == 3
    assert len(store.to_dataframe("missing")) == 0


def test_unwritable_or_corrupt_store_raises_clear_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    with pytest.raises(HiddenstructError, match="--store"):
        TrialStore(blocker / "store.sqlite")
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HiddenstructError, match="corrupt.sqlite"):
        TrialStore(corrupt)


def test_store_pickles_as_its_path(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    h = store.register("e", {"a": 1})
    clone = pickle.loads(pickle.dumps(store))
    assert clone.path == store.path and clone.get(h).config == {"a": 1}


WRITER = textwrap.dedent(
    """
    import sys
    from hiddenstruct.trials.store import TrialStore
    store = TrialStore(sys.argv[1], timeout=120)
    name = sys.argv[2]
    for i in range(int(sys.argv[3])):
        h = store.register(name, {"writer": name, "i": i})
        store.claim(h)
        store.log_metrics(h, [(0, "m", float(i))])
        store.finish(h, {"i": i}, metrics=[(1, "m", float(i))])
    """
)


def test_two_processes_writing_concurrently_lose_nothing(tmp_path):
    path = tmp_path / "shared.sqlite"
    TrialStore(path).close()
    n = 150
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(n)])
        for name in ("w1", "w2")
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    store = TrialStore(path)
    for name in ("w1", "w2"):
        trials = store.trials(name)
        assert len(trials) == n
        assert all(t.status == "done" for t in trials)
        assert sorted(t.result["i"] for t in trials) == list(range(n))
    metrics = store.metrics_dataframe()
    assert len(metrics) == 4 * n


def test_newer_schema_version_is_refused(tmp_path):
    import sqlite3

    path = tmp_path / "s.sqlite"
    TrialStore(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(HiddenstructError, match="schema version 99"):
        TrialStore(path)


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _values, max_size=6))
def test_hash_depends_on_content_not_insertion_order(config):
    reordered = dict(reversed(list(config.items())))
    assert config_hash(reordered) == config_hash(config)
    assert len(config_hash(config)) == 64
    extra = {**config, "__added__": 1}
    assert config_hash(extra, defaults={"__added__": 1}) == config_hash(config)
    assert config_hash(extra) != config_hash(config)
