"""The paper's experiments, one package each (an :class:`~hiddenstruct.experiments.base.Experiment`
subclass), registered in :mod:`hiddenstruct.experiments.registry`; built on the trial
framework :mod:`hiddenstruct.trials` (docs/architecture.md)."""
