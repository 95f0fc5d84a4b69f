"""The recurrent stack's CPU kernels in C++ (``rnn_native.cpp``), built on first use.

:meth:`MaskedRNN.encode` runs a whole recurrent stack as one autograd node
(:mod:`hiddenstruct.nn.rnn_stack`); on CPU this module is that node's default engine.
One C++ call runs the forward of all layers and all steps, one the backward: packing the
padded batch, the gate math (plain loops the compiler vectorizes) and the matrix products,
which go straight to the BLAS that PyTorch links (its exported ``sgemm_`` / ``dgemm_``), so
a time step costs no operator dispatch and no Python at all. The TorchScript kernels of
:mod:`~hiddenstruct.nn.rnn_stack` compute the same function and stay the fallback.

Building: the source is compiled with the system C++ compiler (``$CXX``, else ``c++``,
``g++`` or ``clang++``; about 1.5 s) into a cache directory (``$HIDDENSTRUCT_CACHE``, else
``$XDG_CACHE_HOME/hiddenstruct`` or ``~/.cache/hiddenstruct``), keyed by the source, the
flags, the compiler and the CPU, so a machine builds it once and concurrent processes do
not clash. No compiler, a failed build or ``HIDDENSTRUCT_NATIVE=0`` mean the TorchScript
kernels run instead (a failed build warns once). float32 and float64 run here; other
dtypes use the fallback.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from hiddenstruct.nn.rnn_fused import KINDS
from hiddenstruct.nn.varlen import check_lengths, pytorch_final_hidden, recomputed_grads

SOURCE = Path(__file__).with_name("rnn_native.cpp")
FLAGS = (
    "-O3",
    "-march=native",
    "-fno-trapping-math",  # lets the float exp loops vectorize; no FP exceptions are used
    "-fno-math-errno",
    "-std=c++17",
    "-fPIC",
    "-shared",
)
ABI_VERSION = 4
"""Must equal ``hs_abi_version()`` of the built library."""
ENV_SWITCH = "HIDDENSTRUCT_NATIVE"
ENV_CACHE = "HIDDENSTRUCT_CACHE"
KIND_CODES = {"tanh": 0, "relu": 1, "gru": 2, "lstm": 3}
GATES = {"tanh": 1, "relu": 1, "gru": 3, "lstm": 4}
DTYPES = (torch.float32, torch.float64)

log = logging.getLogger(__name__)


def _cache_dir() -> Path:
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hiddenstruct"


def _compiler() -> str | None:
    if os.environ.get("CXX"):
        return shutil.which(os.environ["CXX"])
    return next(filter(None, map(shutil.which, ("c++", "g++", "clang++"))), None)


def _cpu_signature() -> str:
    """What ``-march=native`` depends on: the CPU's feature flags where Linux shows them."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


def library_path(compiler: str) -> Path:
    """Where the build for this source, compiler and CPU lives in the cache."""
    key = hashlib.sha256()
    for part in (SOURCE.read_bytes(), " ".join(FLAGS).encode(), compiler.encode()):
        key.update(part)
    key.update(_cpu_signature().encode())
    return _cache_dir() / f"rnn_native-{key.hexdigest()[:16]}.so"


def build(compiler: str, target: Path) -> None:
    """Compile the source into ``target`` atomically (a temporary file, then a rename).

    Raises :class:`RuntimeError` with the compiler's message when the build fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        started = time.perf_counter()
        done = subprocess.run(
            [compiler, *FLAGS, str(SOURCE), "-o", tmp], capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"{compiler} failed: {done.stderr.strip()[-2000:]}")
        os.replace(tmp, target)
        log.info("built %s in %.1f s", target, time.perf_counter() - started)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _blas_symbols() -> tuple[int | None, int | None]:
    """Addresses of ``sgemm_`` and ``dgemm_`` in PyTorch's own CPU library, if it exports them."""
    found: list[int | None] = [None, None]
    for path in sorted((Path(torch.__file__).parent / "lib").glob("libtorch_cpu.*")):
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        for i, name in enumerate(("sgemm_", "dgemm_")):
            if found[i] is None and hasattr(lib, name):
                found[i] = ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
    return found[0], found[1]


def _declare(lib: ctypes.CDLL) -> None:
    i64, ptr, c_int = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    lib.hs_abi_version.restype = c_int
    lib.hs_set_blas.argtypes = [ptr, ptr]
    lib.hs_set_blas.restype = None
    lib.hs_stack_saved_size.argtypes = [c_int, i64, ptr, i64, i64, i64]
    lib.hs_stack_saved_size.restype = i64
    head = [c_int, c_int, i64, ptr, ptr, i64, i64, i64, ptr, ptr, ptr]  # ... through rows
    lib.hs_stack_forward.argtypes = head + [ptr] * 4
    lib.hs_stack_forward.restype = None
    lib.hs_stack_backward.argtypes = head + [i64] + [ptr] * 5
    lib.hs_stack_backward.restype = None
    lib.hs_pack_plan.argtypes = [i64, i64, ptr, ptr, ptr, ptr]
    lib.hs_pack_plan.restype = i64


@functools.cache
def library() -> ctypes.CDLL | None:
    """The built kernels, or ``None`` (no compiler or a failed build: warned once)."""
    compiler = _compiler()
    if compiler is None:
        log.info("no C++ compiler found: recurrent stacks use the TorchScript kernels")
        return None
    sgemm, dgemm = _blas_symbols()
    if sgemm is None or dgemm is None:
        log.info("PyTorch exports no sgemm_/dgemm_: recurrent stacks use the TorchScript kernels")
        return None
    target = library_path(compiler)
    try:
        if not target.exists():
            build(compiler, target)
        lib = ctypes.CDLL(str(target))
        _declare(lib)
        if lib.hs_abi_version() != ABI_VERSION:
            raise RuntimeError(f"{target} has ABI {lib.hs_abi_version()}, not {ABI_VERSION}")
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        warnings.warn(
            f"hiddenstruct: could not build the native recurrent kernels ({err}); using the "
            f"slower TorchScript kernels. Point CXX at a working C++ compiler or {ENV_CACHE} at "
            f"a writable directory, or set {ENV_SWITCH}=0 to skip the build.",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    lib.hs_set_blas(sgemm, dgemm)
    return lib


def usable(x: torch.Tensor) -> bool:
    """Whether the native kernels take ``x``: CPU, float32/float64, enabled and built."""
    return (
        x.device.type == "cpu"
        and x.dtype in DTYPES
        and os.environ.get(ENV_SWITCH, "1") != "0"
        and library() is not None
    )


def pack_plan(lib: ctypes.CDLL, lengths: torch.Tensor, steps: int):
    """``(sizes, index, rows)`` for a padded batch with CPU int64 ``lengths`` in [1, steps]:
    the packed batch sizes, the padded row (``b·steps + t``) of every packed row, and the
    packed row of each sequence's last step (as ``pack_padded_sequence`` would give)."""
    lengths = lengths.to("cpu", torch.int64).contiguous()
    batch = lengths.shape[0]
    sizes = torch.empty(steps, dtype=torch.int64)
    index = torch.empty(max(int(lengths.sum()), 0), dtype=torch.int64)
    rows = torch.empty(batch, dtype=torch.int64)
    longest = lib.hs_pack_plan(
        batch, steps, lengths.data_ptr(), sizes.data_ptr(), index.data_ptr(), rows.data_ptr()
    )
    if longest < 0:
        raise ValueError(f"lengths must lie in [1, {steps}], got {lengths.tolist()}")
    return sizes[:longest], index, rows


@dataclass(frozen=True)
class Wiring:
    """How a stack's layers connect. Layer ``l`` has ``hidden[l]`` units; layer 0 reads the
    input, layer ``l > 0`` the columns ``[in_begin[l], offset(l))`` of the layers'
    concatenated outputs (``offset(l)`` = the units of layers ``< l``); the stack returns
    each sequence's final state of the concatenated outputs' columns ``[out_begin, S)``."""

    kind: str
    hidden: tuple[int, ...]
    in_begin: tuple[int, ...]
    out_begin: int

    @staticmethod
    def chain(kind: str, hidden) -> Wiring:
        """Layer ``l`` reads layer ``l − 1``; the last layer's final state is returned
        (:class:`~hiddenstruct.nn.rnn.MaskedRNN`). Cached: one object per shape."""
        return _wiring(kind, tuple(int(h) for h in hidden), dag=False, all_layers=False)

    @staticmethod
    def dag(kind: str, hidden, all_layers: bool = False) -> Wiring:
        """Layer ``l`` reads all earlier layers (:class:`~hiddenstruct.nn.graphrnn.GraphRNN`);
        the last layer's final state is returned, or every layer's with ``all_layers``."""
        return _wiring(kind, tuple(int(h) for h in hidden), dag=True, all_layers=all_layers)

    @functools.cached_property
    def arrays(self) -> tuple[ctypes.Array, ctypes.Array]:
        """``hidden`` and ``in_begin`` as C arrays."""
        n = len(self.hidden)
        return (ctypes.c_int64 * n)(*self.hidden), (ctypes.c_int64 * n)(*self.in_begin)

    def input_width(self, layer: int, features: int) -> int:
        return features if layer == 0 else sum(self.hidden[:layer]) - self.in_begin[layer]


@functools.cache
def _wiring(kind: str, hidden: tuple[int, ...], dag: bool, all_layers: bool) -> Wiring:
    offsets = [0]
    for h in hidden:
        offsets.append(offsets[-1] + h)
    in_begin = (0,) * len(hidden) if dag else (0, *offsets[:-2])
    return Wiring(kind, hidden, in_begin, 0 if all_layers else offsets[-2])


def _check_weights(wiring: Wiring, x: torch.Tensor, weights) -> None:
    """The C++ code trusts shapes and dtypes: check them (a mismatch would corrupt memory)."""
    if len(weights) != 4 * len(wiring.hidden):
        raise ValueError(
            f"need w_ih, w_hh, b_ih, b_hh per layer ({len(wiring.hidden)} layers), "
            f"got {len(weights)} tensors"
        )
    for layer, hidden in enumerate(wiring.hidden):
        rows, width = GATES[wiring.kind] * hidden, wiring.input_width(layer, x.shape[2])
        expected = [(rows, width), (rows, hidden), (rows,), (rows,)]
        mine = weights[4 * layer : 4 * layer + 4]
        for name, w, shape in zip(("w_ih", "w_hh", "b_ih", "b_hh"), mine, expected, strict=True):
            if tuple(w.shape) != shape or w.dtype != x.dtype or w.device != x.device:
                raise ValueError(
                    f"layer {layer} {name}: expected {x.dtype} {shape} on {x.device}, "
                    f"got {w.dtype} {tuple(w.shape)} on {w.device}"
                )


def _pointers(tensors) -> ctypes.Array:
    return (ctypes.c_void_p * len(tensors))(*(t.data_ptr() for t in tensors))


class NativeStackFinal(torch.autograd.Function):
    """A stack wired by ``wiring``, from zero states, over a padded batch-first ``x``
    [B, T, F] with ``lengths``; returns the final states [B, S − out_begin] at each
    sequence's last step.

    One C++ call runs the forward and one the backward. The batch is packed inside (a
    gather; the backward scatters back), so padded steps cost nothing. A double backward
    differentiates a recomputation on PyTorch's kernels.
    """

    @staticmethod
    def forward(ctx, wiring, x, lengths, *weights):
        lib, code = library(), KIND_CODES[wiring.kind]
        batch, steps, features = x.shape
        _check_weights(wiring, x, weights)
        x = x.contiguous()
        sizes, index, rows = pack_plan(lib, lengths, steps)
        weights = [w.contiguous() for w in weights]
        hidden, in_begin = wiring.arrays
        layers = len(wiring.hidden)
        size = lib.hs_stack_saved_size(code, layers, hidden, features, batch, len(index))
        saved = x.new_empty(size)
        final = x.new_empty(batch, sum(wiring.hidden) - wiring.out_begin)
        lib.hs_stack_forward(
            x.dtype == torch.float64, code, layers, hidden, in_begin, wiring.out_begin,
            features, len(sizes), sizes.data_ptr(), index.data_ptr(), rows.data_ptr(),
            x.data_ptr(), _pointers(weights), saved.data_ptr(), final.data_ptr(),
        )  # fmt: skip
        ctx.wiring, ctx.plan, ctx.saved = wiring, (sizes, index, rows), saved
        ctx.save_for_backward(x, *weights)
        return final

    @staticmethod
    def backward(ctx, d_final):
        x, *weights = ctx.saved_tensors
        if torch.is_grad_enabled():
            return NativeStackFinal._double_backward(ctx, x, weights, d_final)
        sizes, index, rows = ctx.plan
        wiring = ctx.wiring
        needs_x, needs_w = ctx.needs_input_grad[1], ctx.needs_input_grad[3:]
        grads = [torch.empty_like(w) for w in weights]
        dx = torch.empty_like(x) if needs_x else None
        d_final = d_final.to(x.dtype).contiguous()
        hidden, in_begin = wiring.arrays
        library().hs_stack_backward(
            x.dtype == torch.float64, KIND_CODES[wiring.kind], len(wiring.hidden), hidden,
            in_begin, wiring.out_begin, x.shape[2], len(sizes), sizes.data_ptr(),
            index.data_ptr(), rows.data_ptr(), x.shape[0] * x.shape[1], _pointers(weights),
            ctx.saved.data_ptr(), d_final.data_ptr(), _pointers(grads),
            None if dx is None else dx.data_ptr(),
        )  # fmt: skip
        grads = [g if need else None for g, need in zip(grads, needs_w, strict=True)]
        return (None, dx, None, *grads)

    @staticmethod
    def _double_backward(ctx, x, weights, d_final):
        sizes, index, rows = ctx.plan
        wiring = ctx.wiring

        def recompute() -> torch.Tensor:
            packed = x.reshape(-1, x.shape[2]).index_select(0, index)
            return pytorch_final_hidden(
                wiring.kind,
                packed,
                sizes.tolist(),
                rows,
                weights,
                wiring.in_begin,
                wiring.out_begin,
            )

        wanted = [ctx.needs_input_grad[1], *ctx.needs_input_grad[3:]]
        dx, *grads = recomputed_grads(recompute, [x, *weights], wanted, d_final)
        return (None, dx, None, *grads)


def final_hidden(wiring: Wiring, x: torch.Tensor, lengths: torch.Tensor, weights) -> torch.Tensor:
    """The final states [B, S − out_begin] of a stack wired by ``wiring`` over batch-first
    ``x`` [B, T, F]; ``lengths``: integers [B] in [1, T]; ``weights``: per layer ``w_ih,
    w_hh, b_ih, b_hh``. Requires :func:`usable`."""
    return NativeStackFinal.apply(wiring, x, lengths, *weights)


def dag_final_states(layers, x: torch.Tensor, lengths, all_layers: bool) -> torch.Tensor:
    """Final states of recurrent ``layers`` (:class:`~hiddenstruct.nn.rnn.RecurrentLayer`,
    one mode) wired as a DAG stack — layer 0 reads batch-first ``x`` [B, T, F], layer
    ``l > 0`` all earlier layers' outputs — as in :class:`~hiddenstruct.nn.graphrnn.GraphRNN`
    and :class:`~hiddenstruct.nn.packed.PackedGraphClassifier`: the last layer's [B, n_last],
    or with ``all_layers`` every layer's, concatenated [B, Σ n_l]. ``lengths``: integers
    [B] in [1, T] or ``None`` (all T). Requires :func:`usable`."""
    batch, steps = x.shape[0], x.shape[1]
    if lengths is None:
        lengths = torch.full((batch,), steps, dtype=torch.int64)
    else:
        lengths = check_lengths(lengths, batch, steps)
    kind = KINDS[layers[0].mode]
    wiring = Wiring.dag(kind, [layer.hidden_size for layer in layers], all_layers)
    weights = [
        w for m in layers for w in (m.weight_ih, m.weight_hh, m.bias_ih, m.bias_hh)
    ]  # fmt: skip
    return final_hidden(wiring, x, lengths, weights)
