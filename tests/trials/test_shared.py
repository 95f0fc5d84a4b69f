"""Shared trials: run once per store; their artifacts are found only in the store's folder."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from hiddenstruct.errors import HiddenstructError
from hiddenstruct.trials.shared import artifact_dir, run_shared
from hiddenstruct.trials.store import TrialStore


def _write_artifact(cfg, log):
    path = Path(cfg["runtime"]["artifact_dir"]) / f"{log.hash}-base.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(cfg["seed"]))
    log.artifact("state_dict", path)
    return {"seed": cfg["seed"]}


def _shared(store: TrialStore) -> dict:
    return run_shared(
        "toy-base", [{"seed": 1}, {"seed": 1}], _write_artifact, store, progress=False
    )


def _set_stored_path(store_path: Path, value: str) -> None:
    with sqlite3.connect(store_path) as conn:
        conn.execute("UPDATE artifacts SET path = ?", (value,))
    conn.close()


def test_shared_trial_runs_once_and_resumes(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    (first,) = _shared(store).values()
    assert list(_shared(store).values()) == [first]  # resumed: nothing re-run
    (record,) = store.trials("toy-base")
    assert record.attempts == 1
    assert Path(first[1]["state_dict"]).parent == artifact_dir(store)


def test_a_stored_path_outside_the_artifact_folder_is_never_followed(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    _shared(store)
    planted = tmp_path / "elsewhere" / "planted.pt"
    planted.parent.mkdir()
    planted.write_text("not a base model")
    for value in (str(planted), str(artifact_dir(store) / ".." / "elsewhere" / "planted.pt")):
        _set_stored_path(store.path, value)
        with pytest.raises(HiddenstructError, match="missing from .*fresh --store"):
            _shared(TrialStore(store.path))


def test_a_moved_store_finds_its_artifacts(tmp_path):
    store = TrialStore(tmp_path / "a" / "s.sqlite")
    _shared(store)
    store.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")
    moved = TrialStore(tmp_path / "b" / "s.sqlite")
    ((_, artifacts),) = _shared(moved).values()
    assert Path(artifacts["state_dict"]).parent == artifact_dir(moved)
    assert Path(artifacts["state_dict"]).read_text() == "1"


def test_a_missing_artifact_is_a_clear_error(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    ((_, artifacts),) = _shared(store).values()
    Path(artifacts["state_dict"]).unlink()
    with pytest.raises(HiddenstructError, match="missing from .*restore it or use a fresh"):
        _shared(store)
