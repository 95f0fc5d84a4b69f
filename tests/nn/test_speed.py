"""speed_report: formats checked against the masked model, break-even densities, failures."""

from __future__ import annotations

import math

import pytest
import torch

from hiddenstruct import zoo
from hiddenstruct.errors import UsageError
from hiddenstruct.nn import MaskedDeepFFN, Timing, speed_report
from hiddenstruct.nn import speed as speed_module
from hiddenstruct.nn.speed import DensityRow, FormatTiming, SpeedReport


def _report(speedups: dict[str, list[float]], densities=(0.5, 0.2, 0.1)) -> SpeedReport:
    rows = []
    for i, d in enumerate(densities):
        cells = {}
        for fmt, values in speedups.items():
            value = values[i]
            status = value if isinstance(value, str) else "ok"
            ratio = float("nan") if isinstance(value, str) else value
            cells[fmt] = FormatTiming(fmt, 1.0, ratio, status)
        rows.append(DensityRow(d, d, 1.0, cells))
    return SpeedReport(tuple(rows), tuple(speedups), 1, None, 1)


def test_break_even_is_the_density_from_which_on_a_format_stays_faster():
    report = _report(
        {
            "a": [0.8, 1.2, 1.5],
            "b": [1.2, 0.9, 1.5],
            "c": [0.9, 0.9, 0.9],
            "d": [2.0, 2.0, 2.0],
            "e": [2.0, "failed: max |Δ| = 1", 2.0],
            "f": ["n/a: no", "n/a: no", "n/a: no"],
            "g": [1.05, 1.05, 1.05],  # within the 1.1 margin: not a win
        }
    )
    even = report.break_even()
    assert even["a"] == 0.2 and even["b"] == 0.1 and even["c"] == "never" and even["d"] == 0.5
    assert even["e"].startswith("failed") and even["f"] == "n/a: no" and even["g"] == "never"
    assert report.failures() == ["e at density 0.2: failed: max |Δ| = 1"]
    table = report.table()
    assert (
        "| break-even density | | | ≤ 0.2 | ≤ 0.1 | never | ≤ 0.5 | FAILED | n/a | never |" in table
    )
    assert "f: n/a: no" in table


def test_ffn_report_checks_every_format_and_prunes_to_each_density():
    torch.manual_seed(0)
    model = MaskedDeepFFN(80, 10, [60])
    report = speed_report(model, torch.randn(4, 80), densities=(0.1, 0.5), timing=Timing(2, 0, 1))
    assert [row.density for row in report.rows] == [0.5, 0.1]
    for row in report.rows:
        assert row.weight_density == pytest.approx(row.density, abs=1e-3)
        assert row.dense_seconds > 0
        for fmt, cell in row.formats.items():
            assert cell.ok, (fmt, cell.status)
            assert cell.speedup > 0 and math.isfinite(cell.seconds)
    assert report.failures() == [] and report.batch == 4
    assert all(
        layer.weight.detach().count_nonzero() == layer.weight.numel() for layer in model.layers
    )


def test_a_format_with_wrong_outputs_is_a_failure_not_a_speed(monkeypatch):
    original = speed_module._builders

    def broken(example_inputs):
        builders = original(example_inputs)

        def wrong(model):
            out = builders["compact"](model)
            with torch.no_grad():
                out.layers[-1].bias.add_(1e-2)
            return out

        return {**builders, "compact": wrong}

    monkeypatch.setattr(speed_module, "_builders", broken)
    report = speed_report(
        MaskedDeepFFN(30, 5, [20]),
        torch.randn(3, 30),
        densities=(0.3,),
        timing=Timing(1, 0, 1),
    )
    assert report.break_even()["compact"].startswith("failed: max |Δ|")
    assert report.rows[0].formats["masked"].ok
    assert len(report.failures()) == 1


def test_models_without_csr_say_why_and_structured_pruning_compacts():
    model = zoo.mlp([20, 16, 8, 3])
    report = speed_report(
        model, torch.randn(2, 20), densities=(0.5,), unit="neuron", timing=Timing(1, 0, 1)
    )
    cells = report.rows[0].formats
    assert cells["csr"].status.startswith("n/a: to_sparse does not support Sequential")
    assert cells["compact"].ok and cells["masked"].ok
    assert report.rows[0].weight_density < 0.75  # half the hidden units and their weights went
    assert "csr: n/a: to_sparse does not support Sequential" in report.table()


def test_bad_arguments_are_usage_errors():
    model, x = MaskedDeepFFN(4, 2, [3]), torch.randn(2, 4)
    with pytest.raises(UsageError, match="densities must lie in"):
        speed_report(model, x, densities=(0.0,))
    with pytest.raises(UsageError, match="unknown speed_report format"):
        speed_report(model, x, formats=("coo",))
    with pytest.raises(UsageError, match="repeats"):
        speed_report(model, x, timing=Timing(repeats=0))


def test_calls_per_measurement_follow_the_sample_time(monkeypatch):
    seen = []
    original = speed_module.measure_interleaved

    def spy(fns, repeats, warmup):
        seen.append(repeats)
        return original(fns, repeats=repeats, warmup=warmup)

    monkeypatch.setattr(speed_module, "measure_interleaved", spy)
    assert speed_module._calls_for(lambda: None, 0.0) == 1
    assert speed_module._calls_for(lambda: sum(range(2000)), 0.05) > 1
    speed_report(
        MaskedDeepFFN(6, 2, [4]), torch.randn(1, 6), densities=(0.5,), timing=Timing(repeats=3)
    )
    assert seen == [3]


def test_density_counts_all_weights_when_the_model_comes_pruned():
    from hiddenstruct.pruning import prune

    model = MaskedDeepFFN(40, 5, [30])
    prune(model, "magnitude", "class_blinded", 0.5)
    report = speed_report(model, torch.randn(2, 40), densities=(0.2,), timing=Timing(1, 0, 1))
    assert report.rows[0].weight_density == pytest.approx(0.2, abs=1e-3)
    with pytest.raises(UsageError, match="keeps 0.5 of its weights already"):
        speed_report(model, torch.randn(2, 40), densities=(0.8,), timing=Timing(1, calls=1))


class _WithExtras(torch.nn.Module):
    """A masked FFN whose output also holds a dict and, optionally, a non-tensor leaf."""

    def __init__(self, extra) -> None:
        super().__init__()
        self.net, self.extra = MaskedDeepFFN(6, 3, [5]), extra

    def forward(self, x):
        y = self.net(x)
        return y, {"twice": 2 * y, "extra": self.extra}


def test_outputs_nested_in_dicts_are_compared_and_a_non_tensor_leaf_is_named():
    x = torch.randn(2, 6)
    report = speed_report(
        _WithExtras(torch.ones(1)), x, densities=(0.5,), timing=Timing(1, calls=1)
    )
    assert report.rows[0].formats["masked"].ok and report.failures() == []
    with pytest.raises(UsageError, match="speed_report compares tensor outputs; .* NoneType"):
        speed_report(_WithExtras(None), x, densities=(0.5,), timing=Timing(1, calls=1))


def test_structured_weight_density_counts_the_scoped_tensors():
    """With ``unit=`` the reported density is over the tensors ``scope`` chooses: half of
    layer 0's 16 neurons go, so half of its weights; the whole model would show 0.517 (the
    next layer loses the columns that read them, the last layer nothing)."""
    model = MaskedDeepFFN(20, 2, [16, 8])
    report = speed_report(
        model, torch.randn(4, 20), densities=(0.5,), unit="neuron",
        scope=["layers.0.weight"], timing=Timing(1, 0, 1), formats=("masked",),
    )  # fmt: skip
    assert report.rows[0].weight_density == pytest.approx(0.5, abs=1e-9)
