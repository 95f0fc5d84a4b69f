"""Break-even report: from which density on does a sparse format beat the dense model?

:func:`speed_report` prunes copies of a model to each density, builds every deployable
format of each copy, checks that they compute the same outputs, and times them against the
dense model (the same pruned weights stored dense, masks removed), interleaved so that all
formats of a density see the same machine load. Formats:

* ``dense`` — the baseline: plain ``nn.Linear``/``nn.Conv2d``/… with the zeros stored;
* ``masked`` — the pruned model as training leaves it (W ⊙ M recomputed in each forward);
* ``csr`` — :func:`~hiddenstruct.nn.sparse.to_sparse` (``MaskedDeepFFN`` / ``GraphNet``);
* ``compact`` — :func:`~hiddenstruct.nn.compact` (dead units removed; any model whose
  compaction is supported, with ``example_inputs``);
* ``compact+csr`` — ``to_sparse(compact(model))`` where both apply.

*Density* is the fraction of all scoped weights kept (unstructured magnitude pruning,
class-blinded; a model that comes pruned is pruned further to it) or, with ``unit``, the
fraction of the remaining units kept (:func:`hiddenstruct.pruning.prune_structured`); the
report also gives the resulting weight density. A format's *break-even density* is the
highest tested density from which on (towards sparser) it is faster than dense at every
tested density — by at least ``margin`` (default 1.1: a speed-up under 10 % is within the
noise of a shared machine, our choice): ``"never"`` when it is not faster at the sparsest one, ``"n/a: …"`` when the
format does not apply to the model, ``"failed: …"`` when its outputs differ from the masked
model's (a failure, never a speed result).

Example::

    >>> report = speed_report(MaskedDeepFFN(784, 10, [300, 100]), torch.randn(64, 784))
    >>> print(report.table())
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from hiddenstruct.errors import UsageError, check_choice
from hiddenstruct.graphs.fx_trace import output_tensors
from hiddenstruct.nn.interop import remove_masks
from hiddenstruct.timing import measure, measure_interleaved

FORMATS = ("masked", "csr", "compact", "compact+csr")
DEFAULT_DENSITIES = (0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02)


@dataclass(frozen=True)
class FormatTiming:
    """One format at one density: median seconds per forward, speed-up over dense, check."""

    format: str
    seconds: float
    speedup: float
    status: str  # "ok", "n/a: <why>" or "failed: <what differs>"

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Timing:
    """How :func:`speed_report` times: medians of ``repeats`` interleaved measurements after
    ``warmup`` unmeasured ones, each ``calls`` forward calls (divided by ``calls``; ``None``:
    as many as make the dense model's measurement last ``sample_seconds``, so that short
    forwards are not timed at the resolution of the scheduler)."""

    repeats: int = 20
    warmup: int = 3
    calls: int | None = None
    sample_seconds: float = 0.02

    def __post_init__(self) -> None:
        if self.repeats < 1 or (self.calls is not None and self.calls < 1) or self.warmup < 0:
            raise UsageError(
                f"timing needs repeats >= 1, calls >= 1 (or None) and warmup >= 0, got "
                f"repeats {self.repeats}, calls {self.calls}, warmup {self.warmup}"
            )


@dataclass(frozen=True)
class DensityRow:
    """All formats at one requested density (``weight_density``: scoped weights kept)."""

    density: float
    weight_density: float
    dense_seconds: float
    formats: dict[str, FormatTiming] = field(default_factory=dict)


@dataclass(frozen=True)
class SpeedReport:
    """Rows per density (densest first) and each format's break-even density."""

    rows: tuple[DensityRow, ...]
    formats: tuple[str, ...]
    batch: int
    unit: str | None
    repeats: int
    margin: float = 1.1

    def break_even(self) -> dict[str, float | str]:
        """``{format: density}`` from which on the format beats dense (see the module doc)."""
        out: dict[str, float | str] = {}
        for fmt in self.formats:
            cells = [row.formats[fmt] for row in self.rows]
            failed = [c for c in cells if c.status.startswith("failed")]
            if failed:
                out[fmt] = failed[0].status
                continue
            missing = [c for c in cells if not c.ok]
            if missing:
                out[fmt] = missing[0].status
                continue
            found: float | str = "never"
            for row in reversed(self.rows):  # sparsest first
                if row.formats[fmt].speedup >= self.margin:
                    found = row.density
                else:
                    break
            out[fmt] = found
        return out

    def failures(self) -> list[str]:
        """``"<format> at density d: <what differs>"`` for every failed output check."""
        return [
            f"{fmt} at density {row.density:g}: {cell.status}"
            for row in self.rows
            for fmt, cell in row.formats.items()
            if cell.status.startswith("failed")
        ]

    def table(self) -> str:
        """A markdown table: speed-up over dense (×, median) per density and format, the
        break-even row, then one note per format that does not apply or failed."""
        kind = f"units ({self.unit}) kept" if self.unit else "weights kept"
        head = f"| density ({kind}) | weight density | dense (ms) | " + " | ".join(
            f"{f} (×)" for f in self.formats
        )
        lines = [head + " |", "|---" * (len(self.formats) + 3) + "|"]
        for row in self.rows:
            cells = [_cell(row.formats[fmt]) for fmt in self.formats]
            lines.append(
                f"| {row.density:g} | {row.weight_density:.3f} | {1e3 * row.dense_seconds:.3f} | "
                + " | ".join(cells)
                + " |"
            )
        even = self.break_even()
        lines.append(
            "| break-even density | | | " + " | ".join(_show(even[f]) for f in self.formats) + " |"
        )
        notes = [f"{f}: {even[f]}" for f in self.formats if isinstance(even[f], str)]
        notes = [n for n in notes if not n.endswith(": never")]
        return "\n".join(lines + [""] * bool(notes) + notes)

    def __str__(self) -> str:
        return self.table()


def _show(value: float | str) -> str:
    if isinstance(value, float):
        return f"≤ {value:g}"
    return value.split(":")[0].replace("failed", "FAILED")


def _cell(timing: FormatTiming) -> str:
    return f"{timing.speedup:.2f}" if timing.ok else _show(timing.status)


def _as_tuple(example_inputs) -> tuple:
    return tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)


def _difference(reference: list[torch.Tensor], got: list[torch.Tensor], atol, rtol) -> str | None:
    if len(reference) != len(got):
        return f"failed: {len(got)} outputs instead of {len(reference)}"
    for a, b in zip(reference, got, strict=True):
        if a.shape != b.shape:
            return f"failed: output shape {tuple(b.shape)} instead of {tuple(a.shape)}"
        if not torch.allclose(a, b.to(a.dtype), atol=atol, rtol=rtol):
            return f"failed: max |Δ| = {float((a - b.to(a.dtype)).abs().max()):.3g}"
    return None


def _weight_density(model: nn.Module, scope) -> float:
    from hiddenstruct.sparsity.tensors import resolve_scope

    targets = resolve_scope(model, scope)
    kept = sum(int(t.current_mask.bool().sum()) for t in targets.values())
    total = sum(t.current_mask.numel() for t in targets.values())
    return kept / total if total else float("nan")


def _pruned(model, example_inputs, density, unit, criterion, scope, selection) -> nn.Module:
    from hiddenstruct.pruning import prune

    out = copy.deepcopy(model)
    if unit is None:  # ``density`` of all scoped weights, also when the model comes pruned
        from hiddenstruct.sparsity.tensors import current_masks, ensure_masks, resolve_scope

        targets = resolve_scope(out, scope)
        ensure_masks(targets)
        masks = current_masks(targets).values()
        total, kept = sum(m.numel() for m in masks), sum(int(m.sum()) for m in masks)
        goal = round(density * total)
        if goal > kept:
            raise UsageError(
                f"the model keeps {kept / total:.3g} of its weights already; "
                f"ask for densities at or below that, not {density:g}"
            )
        prune(out, criterion or "magnitude", "class_blinded", kept - goal, scope=scope)
        return out
    from hiddenstruct.pruning import prune_structured

    prune_structured(
        out,
        1.0 - density,
        example_inputs=example_inputs,
        unit=unit,
        criterion=criterion or "l1",
        selection=selection,
        scope=scope,
    )
    return out


def _builders(example_inputs) -> dict[str, Callable[[nn.Module], nn.Module]]:
    from hiddenstruct.nn.compact import compact
    from hiddenstruct.nn.sparse import to_sparse

    return {
        "masked": lambda m: m,
        "csr": to_sparse,
        "compact": lambda m: compact(m, example_inputs),
        "compact+csr": lambda m: to_sparse(compact(m, example_inputs)),
    }


def _repeated(model: nn.Module, inputs: tuple, calls: int, sync) -> Callable[[], None]:
    def run() -> None:
        for _ in range(calls):
            model(*inputs)
        sync()

    return run


def _calls_for(run: Callable[[], None], sample_seconds: float) -> int:
    """Calls per measurement so that one lasts about ``sample_seconds``."""
    once = statistics.median(measure(run, repeats=3, warmup=1))
    return max(1, math.ceil(sample_seconds / once)) if once > 0 else 1


def _problem(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"n/a: {text}"


def speed_report(
    model: nn.Module,
    example_inputs,
    densities: Sequence[float] = DEFAULT_DENSITIES,
    *,
    unit: str | None = None,
    criterion: str | None = None,
    scope=None,
    selection: str = "layer",
    formats: Sequence[str] = FORMATS,
    timing: Timing = Timing(),
    atol: float = 1e-5,
    rtol: float = 1e-5,
    device: str | torch.device | None = None,
    margin: float = 1.1,
) -> SpeedReport:
    """Time ``model`` pruned to each of ``densities`` in each format against dense.

    ``unit=None`` prunes weights (``criterion`` default ``"magnitude"``, class-blinded over
    the tensors ``scope`` chooses, :func:`~hiddenstruct.sparsity.prunable_tensors`); a unit
    name (``"neuron"``, ``"channel"``, ``"hidden"``, ``"head"``) prunes structurally
    (``criterion`` default ``"l1"``, ``selection`` ``"layer"`` or ``"global"``, the groups
    whose layers' weights are in ``scope``; see
    :func:`~hiddenstruct.pruning.prune_structured`).
    ``timing`` (a :class:`Timing`) says how ``model(*example_inputs)`` is timed, under
    ``torch.no_grad`` on ``device`` (default: where the model is). Outputs of every format
    must match the masked model's within ``atol``/``rtol`` or the cell is a failure.
    ``margin``: the speed-up that counts as beating dense in the break-even densities.
    """
    from hiddenstruct.pruning.structured import resolve_selection  # pruning imports nn

    if unit is not None:
        selection, scope = resolve_selection(selection, scope, "speed_report")
    for name in formats:
        check_choice(name, FORMATS, "speed_report format")
    bad = [d for d in densities if not 0.0 < float(d) <= 1.0]
    if bad or not densities:
        raise UsageError(f"densities must lie in (0, 1], got {list(densities) or 'none'}")
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    device = torch.device(device)
    inputs = tuple(
        t.to(device) if isinstance(t, torch.Tensor) else t for t in _as_tuple(example_inputs)
    )
    model = copy.deepcopy(model).to(device).eval()
    builders = _builders(inputs)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rows = []
    with torch.no_grad():
        for density in sorted({float(d) for d in densities}, reverse=True):
            pruned = _pruned(model, inputs, density, unit, criterion, scope, selection).eval()
            reference = output_tensors(pruned(*inputs), "speed_report")
            candidates: dict[str, nn.Module] = {"dense": remove_masks(copy.deepcopy(pruned))}
            status: dict[str, str] = {}
            for fmt in formats:
                try:
                    candidates[fmt] = builders[fmt](pruned).to(device).eval()
                except (UsageError, NotImplementedError, TypeError, ValueError) as error:
                    status[fmt] = _problem(error)
            for fmt, candidate in candidates.items():
                got = output_tensors(candidate(*inputs), "speed_report")
                problem = _difference(reference, got, atol, rtol)
                if problem is not None:
                    status[fmt] = problem
            if "dense" in status:
                raise RuntimeError(
                    f"the dense copy differs from the masked model: {status['dense']}"
                )
            count = timing.calls or _calls_for(
                _repeated(candidates["dense"], inputs, 1, sync), timing.sample_seconds
            )
            runnable = {
                f: _repeated(m, inputs, count, sync)
                for f, m in candidates.items()
                if f == "dense" or f not in status
            }
            times = measure_interleaved(runnable, repeats=timing.repeats, warmup=timing.warmup)
            dense = statistics.median(times["dense"]) / count
            cells = {}
            for fmt in formats:
                if fmt in status:
                    cells[fmt] = FormatTiming(fmt, float("nan"), float("nan"), status[fmt])
                else:
                    seconds = statistics.median(times[fmt]) / count
                    cells[fmt] = FormatTiming(fmt, seconds, dense / seconds, "ok")
            weights = _weight_density(pruned, scope)
            rows.append(DensityRow(density, weights, dense, cells))
    batch = next((t.shape[0] for t in inputs if isinstance(t, torch.Tensor) and t.dim()), 1)
    return SpeedReport(tuple(rows), tuple(formats), int(batch), unit, timing.repeats, margin)
