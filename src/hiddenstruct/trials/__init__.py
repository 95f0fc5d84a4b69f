"""The trial framework: configs, identities, the trial store, executors — knows no experiment.

A trial is a function ``(config: dict, log) -> dict`` and a config; its identity is the hash
of the resolved config (:mod:`.identity`), its record lives in the SQLite store
(:mod:`.store`), and :func:`~hiddenstruct.trials.executors.run_trials` runs every config not
yet done, sequentially, in a process pool or on Ray, with the same results
(docs/experiments.md, docs/reliability.md)::

    from hiddenstruct.trials.executors import make_executor, run_trials
    from hiddenstruct.trials.store import TrialStore

    def square(config, log):
        return {"y": config["x"] ** 2}

    records = run_trials("toy", [{"x": 1}, {"x": 2}], square, TrialStore("runs/toy.sqlite"))
"""
