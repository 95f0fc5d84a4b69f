"""Keep the best NAS candidate's trained model as an artifact of its trial.

Candidates are not saved while the searches run (thousands of them at the paper's scale);
once they are done, the best measured candidate's trial is trained again — seeded exactly as
it was, so it reproduces the stored run — with ``save_model`` on, and its ``state_dict`` is
recorded on that trial (``hiddenstruct results artifacts HASH``). The re-run's accuracy is
compared with the stored one; a mismatch (e.g. a non-deterministic GPU kernel) is reported,
never hidden. It loads torch (the candidate's trainer): imported with the searches
(:mod:`.sweep`).
"""

from __future__ import annotations

import math
from typing import Any

from hiddenstruct.nas.evaluate import train_candidate
from hiddenstruct.trials.artifacts import artifact_root
from hiddenstruct.trials.executors import TrialJob, execute_trial, trial_seed
from hiddenstruct.trials.identity import trial_identity
from hiddenstruct.trials.store import TrialStore


def save_best_model(experiment: str, config: dict[str, Any], store: TrialStore) -> dict[str, str]:
    """Re-train the trial ``config`` of the best candidate with ``save_model``; record and
    describe it."""
    trial_hash = trial_identity(experiment, config)
    record = store.get(trial_hash)
    if record is None or record.status != "done":
        return {"best model": "not saved: the best candidate's trial is not in the store"}
    if "model" in store.artifacts(trial_hash):
        return {"best model": f"kept from an earlier run (trial {trial_hash[:12]})"}
    runtime = {**config.get("runtime", {}), "save_model": True}
    job = TrialJob(
        experiment, trial_hash, {**config, "runtime": runtime}, train_candidate,
        trial_seed(config, trial_hash), artifact_root=str(artifact_root(store.path)),
    )  # fmt: skip
    outcome = execute_trial(job)
    if not outcome.ok:
        return {"best model": f"not saved: re-training failed ({outcome.error.splitlines()[-1]})"}
    store.add_artifacts(trial_hash, outcome.artifacts)
    stored, again = record.result["max_val_accuracy"], outcome.result["max_val_accuracy"]
    same = math.isclose(stored, again, abs_tol=1e-9)
    note = "reproduces" if same else f"differs from the stored {stored:.4f}:"
    return {
        "best model": f"trial {trial_hash[:12]}, re-trained: {note} val accuracy {again:.4f}",
    }
