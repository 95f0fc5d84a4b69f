"""The recurrent engine: a whole stack as one autograd node on the C++ kernels.

:func:`run_stack` serves every CPU path of :class:`~hiddenstruct.nn.rnn.MaskedRNN`
(``forward`` with all outputs and given initial states, ``encode``, variable lengths),
:class:`~hiddenstruct.nn.graphrnn.GraphRNN` and
:class:`~hiddenstruct.nn.packed.PackedGraphClassifier`. One C++ call (``native.cpp``)
runs the forward of all layers and all steps, one the backward: packing the padded batch
(so padded steps cost nothing), the gate math and the matrix products (PyTorch's BLAS), so
a time step costs no operator dispatch and no Python. A double backward (OBD's Hutchinson
estimator) differentiates a recomputation on PyTorch's kernels.

Sparse products: given the layers' masks, a weight (``W_ih`` or ``W_hh``) whose mask is
sparse enough (:data:`SPARSE_DENSITY`) is multiplied only at the mask's entries (in C++,
tiles of rows against the entries; :func:`mask_structure`) instead of as a whole masked
matrix, and its gradient is computed only there. The engine then computes the stack of
``W ⊙ mask`` — the same function on masked weights — and the gradient it returns for ``W``
is that of ``W ⊙ mask``: zero off the mask, which is what a masked parameter receives
anyway (code that needs the masked tensor's own gradient off the mask runs under
:func:`dense_products`). Where the engine is unusable (CUDA, other dtypes, no compiler, ``HIDDENSTRUCT_NATIVE=0``) the same function
runs on PyTorch's kernels (:func:`~hiddenstruct.nn.varlen.torch_stack`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os

import numpy as np
import torch

from hiddenstruct.nn import native
from hiddenstruct.nn.mask_structure import (
    MaskBlocks,
    MaskStructure,
    cached_values,
    diagonal_blocks,
    mask_density,
    mask_structure,
)
from hiddenstruct.nn.varlen import StackResult, Wiring, recomputed_grads, torch_stack

DTYPES = (torch.float32, torch.float64)

SPARSE_DENSITY = (0.05, 0.05)
"""Our choice, measured (docs/recurrent.md, ``benchmarks/bench_engine_choice.py``): a
``W_ih`` / ``W_hh`` whose mask keeps at most this share of its entries runs sparse products;
denser weights run PyTorch's BLAS. Inside the engine, on random masks, sparse products break
even at about 5 % density (and cost up to 1.7× the dense ones at 20 %); the packed priors
model's input weights (1.4–5 % dense, in blocks) gain more."""

MAX_SPARSE_ENTRIES = 1 << 19
"""Our choice: a mask with more entries than this runs dense. The backward keeps 256 bytes
of partial sums per entry (a tile of rows: 64 floats or 32 doubles), 128 MiB at this bound."""

FORCE_SPARSE = False
"""Run every masked weight on sparse products, whatever its density (tests, benchmarks)."""

ENV_SPARSE = "HIDDENSTRUCT_SPARSE"
"""``HIDDENSTRUCT_SPARSE=0`` turns sparse products off (every product dense, as before they
existed; outputs and parameters' gradients then differ from sparse ones only in float
rounding)."""


_dense_holds = 0  # open dense_products() blocks


@contextlib.contextmanager
def dense_products():
    """Within the block, every product is dense, whatever the masks (and ``FORCE_SPARSE``).

    For code that reads the gradient of a masked weight ``W ⊙ M`` itself, off the mask too
    (RigL's and sparse momentum's dense gradients): sparse products return it only on the
    mask. Blocks nest."""
    global _dense_holds
    _dense_holds += 1
    try:
        yield
    finally:
        _dense_holds -= 1


def sparse_enabled() -> bool:
    """Whether sparse products may be chosen: ``HIDDENSTRUCT_SPARSE`` is not ``0`` and no
    :func:`dense_products` block is open."""
    return _dense_holds == 0 and os.environ.get(ENV_SPARSE, "1") != "0"


LayerStructure = tuple[MaskStructure | None, MaskStructure | MaskBlocks | None]
"""A layer's ``(W_ih, W_hh)`` structures; ``None`` for a weight on dense products."""

BLOCK_SHARE = 0.5
"""Our choice: a ``W_hh`` on dense products whose mask lies in diagonal blocks covering at
most this share of its entries (:func:`diagonal_blocks`) gets its gradient computed in the
blocks only (the packed priors model's recurrences: one block per graph)."""


def sparse_structure(masks, force: bool | None = None) -> tuple[LayerStructure, ...] | None:
    """Per layer ``(W_ih, W_hh)``: the structure of each weight's mask where it is sparse
    enough (:data:`SPARSE_DENSITY`; every mask with ``force``, default
    :data:`FORCE_SPARSE`), else, for ``W_hh``, its :class:`MaskBlocks` where they cover at
    most :data:`BLOCK_SHARE` of it, else ``None``; ``masks`` holds per layer
    ``(mask_ih, mask_hh)`` (each may be ``None``). ``None`` when no weight qualifies or
    sparse products are off (:data:`ENV_SPARSE`, :func:`dense_products`)."""
    force = FORCE_SPARSE if force is None else force
    if masks is None or _dense_holds or not (force or sparse_enabled()):  # holds beat force
        return None

    def choose(mask, limit, recurrent):
        density = mask_density(mask)
        if (force or density <= limit) and density * mask.numel() <= MAX_SPARSE_ENTRIES:
            return mask_structure(mask)
        if recurrent and not force:
            blocks = diagonal_blocks(mask)
            if blocks is not None and blocks.count > 1 and blocks.share <= BLOCK_SHARE:
                return blocks
        return None

    def pick(mask, which):
        if mask is None:
            return None
        key = ("choice", which, force, SPARSE_DENSITY, BLOCK_SHARE, MAX_SPARSE_ENTRIES)
        values = cached_values(mask)  # one lookup per mask and forward
        if key not in values:
            values[key] = choose(mask, SPARSE_DENSITY[which], which == 1)
        return values[key]

    layers = tuple((pick(ih, 0), pick(hh, 1)) for ih, hh in masks)
    return layers if any(s is not None for pair in layers for s in pair) else None


def usable(x: torch.Tensor) -> bool:
    """Whether the engine takes ``x``: CPU, float32/float64, enabled and built."""
    return (
        x.device.type == "cpu"
        and x.dtype in DTYPES
        and native.enabled()
        and native.library() is not None
    )


def pack_plan(lengths: torch.Tensor, steps: int):
    """``(sizes, index, rows)`` for a padded batch with ``lengths`` in [1, steps]: the packed
    batch sizes, the padded row (``b·steps + t``) of every packed row (sequences by
    decreasing length, ties in batch order) and the packed row of each sequence's last step
    (numpy: a handful of tiny-array operations, cheaper than torch's dispatch)."""
    n = lengths.to("cpu", torch.int64).numpy()
    if n.size and (n.min() < 1 or n.max() > steps):
        raise ValueError(f"lengths must lie in [1, {steps}], got {n.tolist()}")
    order = np.argsort(-n, kind="stable")
    time = np.arange(n.max())
    alive = time[:, None] < n[order][None, :]
    sizes = alive.sum(1)
    index = (order[None, :] * steps + time[:, None])[alive]
    place = np.empty_like(order)
    place[order] = np.arange(len(order))
    rows = (np.cumsum(sizes) - sizes)[n - 1] + place
    return tuple(torch.from_numpy(a.astype(np.int64)) for a in (sizes, index, rows))


def _check(wiring: Wiring, x: torch.Tensor, weights, h0, c0) -> None:
    """The C++ code trusts shapes and dtypes: check them (a mismatch would corrupt memory)."""
    layers, batch = len(wiring.hidden), x.shape[0]
    if len(weights) != 4 * layers:
        raise ValueError(
            f"need w_ih, w_hh, b_ih, b_hh per layer ({layers} layers), got {len(weights)} tensors"
        )
    for layer, hidden in enumerate(wiring.hidden):
        rows = wiring.mode.gates * hidden
        shapes = [(rows, wiring.input_width(layer, x.shape[2])), (rows, hidden), (rows,), (rows,)]
        mine = weights[4 * layer : 4 * layer + 4]
        named = list(zip(("w_ih", "w_hh", "b_ih", "b_hh"), mine, shapes, strict=True))
        named += [(n, s[layer], (batch, hidden)) for n, s in (("h0", h0), ("c0", c0)) if s]
        for name, w, shape in named:
            if tuple(w.shape) != shape or w.dtype != x.dtype or w.device != x.device:
                raise ValueError(
                    f"layer {layer} {name}: expected {x.dtype} {shape} on {x.device}, "
                    f"got {w.dtype} {tuple(w.shape)} on {w.device}"
                )


def _pointers(tensors) -> ctypes.Array | None:
    if tensors is None:
        return None
    return (ctypes.c_void_p * len(tensors))(*(t.data_ptr() for t in tensors))


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _structure_pointers(structure) -> ctypes.Array | None:
    if structure is None:
        return None
    pointers = []
    for ih, hh in structure:  # STRUCTURE_POINTERS per layer (native.cpp)
        for found in (ih, hh):
            sparse = isinstance(found, MaskStructure)
            pointers += [found.rows.data_ptr(), found.cols.data_ptr()] if sparse else [None, None]
        pointers.append(hh.bounds.data_ptr() if isinstance(hh, MaskBlocks) else None)
    return (ctypes.c_void_p * len(pointers))(*pointers)


def _check_structure(wiring: Wiring, weights, structure) -> None:
    """The C++ code trusts the structure: each must have its weight's shape."""
    if structure is None:
        return
    if len(structure) != len(wiring.hidden):
        raise ValueError(
            f"need one (W_ih, W_hh) structure per layer ({len(wiring.hidden)}), got {len(structure)}"
        )
    for layer, pair in enumerate(structure):
        for name, which, found in zip(("W_ih", "W_hh"), (0, 1), pair, strict=True):
            shape = tuple(weights[4 * layer + which].shape)
            if found is not None and tuple(found.mask.shape) != shape:
                raise ValueError(
                    f"layer {layer}: the structure of {name} is for {tuple(found.mask.shape)}, "
                    f"{name} is {shape}"
                )


def _premasked(weights: list[torch.Tensor], premask) -> list[torch.Tensor]:
    """``weights`` contiguous, each multiplied by its ``premask`` mask where it has one."""
    if premask is not None:
        which = [i for i, m in enumerate(premask) if m is not None]
        for i in which:
            w, m = weights[i], premask[i]
            if m.shape != w.shape or m.dtype != w.dtype or m.device != w.device:
                raise ValueError(
                    f"weight {i}: its mask is {m.dtype} {tuple(m.shape)} on {m.device}, "
                    f"the weight {w.dtype} {tuple(w.shape)} on {w.device}"
                )
        products = torch._foreach_mul([weights[i] for i in which], [premask[i] for i in which])
        for i, product in zip(which, products, strict=True):
            weights[i] = product
    return [w.contiguous() for w in weights]


def _with_structure(premask, structure, weights):
    """``premask`` where each weight with a structure (sparse products or :class:`MaskBlocks`)
    but no premask gets its structure's mask: the engine reads or differentiates that weight
    only there, so its function is that of ``W ⊙ mask``, and multiplying by the mask makes the
    rest of the node (forward, gradients, double backward) say so once."""
    missing = [
        (4 * layer + which, found)
        for layer, pair in enumerate(structure or ())
        for which, found in enumerate(pair)
        if found is not None and (premask is None or premask[4 * layer + which] is None)
    ]
    if not missing:
        return premask
    premask = list(premask) if premask is not None else [None] * len(weights)
    for i, found in missing:
        premask[i] = found.mask.to(weights[i].dtype)
    return premask


class NativeStack(torch.autograd.Function):
    """The stack wired by ``wiring`` over a padded batch-first ``x`` [B, T, F] with
    ``lengths``; the flat tensors are ``n_init`` initial states (per layer ``h0``, then for
    LSTM ``c0``), then the weights. ``structure``: per layer a :class:`LayerStructure`
    (:func:`sparse_structure`), or ``None`` for all dense. ``premask``: per weight a mask
    the node multiplies it by (its gradient too), or ``None``; or ``None`` for none.
    Returns (outputs, final, final_c); outputs are empty unless ``outputs``, final_c unless
    LSTM."""

    @staticmethod
    def forward(ctx, wiring, outputs, structure, premask, x, lengths, n_init, *flat):
        lib, layers, mode = native.library(), len(wiring.hidden), wiring.mode
        init = [t.contiguous() for t in flat[:n_init]]
        h0, c0 = (init[:layers] or None), (init[layers:] or None)
        weights = list(flat[n_init:])
        _check(wiring, x, weights, h0, c0)
        _check_structure(wiring, weights, structure)
        premask = _with_structure(premask, structure, weights)
        weights = _premasked(weights, premask)
        x = x.contiguous()
        batch, steps, features = x.shape
        sizes, index, rows = pack_plan(lengths, steps)
        hidden = (ctypes.c_int64 * layers)(*wiring.hidden)
        in_begin = (ctypes.c_int64 * layers)(*wiring.in_begin)
        size = lib.hs_stack_saved_size(mode.code, layers, hidden, features, batch, len(index))
        saved = x.new_empty(size)
        width = sum(wiring.hidden) - wiring.out_begin
        final = x.new_empty(batch, width)
        final_c = x.new_empty(batch, width if mode.has_cell else 0)
        out = x.new_empty(batch, steps, wiring.hidden[-1]) if outputs else x.new_empty(0)
        shape = (
            x.dtype == torch.float64, mode.code, layers, hidden, in_begin, wiring.out_begin,
            features, steps, len(sizes), sizes.data_ptr(), index.data_ptr(), rows.data_ptr(),
            _structure_pointers(structure),
        )  # fmt: skip
        lib.hs_stack_forward(
            *shape, x.data_ptr(), _pointers(weights), _pointers(h0), _pointers(c0),
            saved.data_ptr(), final.data_ptr(), _ptr(final_c), _ptr(out),
        )  # fmt: skip
        ctx.wiring, ctx.shape, ctx.saved, ctx.lengths = wiring, shape, saved, lengths
        ctx.structure = structure  # keeps the arrays ctx.shape points to alive
        ctx.plan = (sizes, index, rows)  # the pointers in ctx.shape point into these
        # the masks and the weights multiplied by them are saved too: autograd then refuses a
        # backward after a mask changed in place, and frees them after the backward
        ctx.masked = [] if premask is None else [i for i, m in enumerate(premask) if m is not None]
        masks = [premask[i] for i in ctx.masked]
        ctx.save_for_backward(x, *flat, *masks, *(weights if ctx.masked else ()))
        ctx.set_materialize_grads(False)
        return out, final, final_c

    @staticmethod
    def backward(ctx, *d_outs):
        x, *rest = ctx.saved_tensors
        layers, count = len(ctx.wiring.hidden), 4 * len(ctx.wiring.hidden)
        n_init = len(rest) - count - (len(ctx.masked) + count if ctx.masked else 0)
        flat, rest = rest[: n_init + count], rest[n_init + count :]
        premask = [None] * count
        for i, mask in zip(ctx.masked, rest, strict=False):
            premask[i] = mask
        d_outs = [
            None if d is None or d.numel() == 0 else d.to(x.dtype).contiguous() for d in d_outs
        ]
        if torch.is_grad_enabled():
            return NativeStack._double_backward(ctx, x, flat, n_init, premask, d_outs)
        weights = rest[len(ctx.masked) :] if ctx.masked else [w.contiguous() for w in flat[n_init:]]
        grads = [torch.empty_like(t) for t in flat]
        dx = torch.empty_like(x) if ctx.needs_input_grad[4] else None
        h0, c0 = grads[: min(n_init, layers)] or None, grads[layers:n_init] or None
        native.library().hs_stack_backward(
            *ctx.shape, _pointers(weights), ctx.saved.data_ptr(), _ptr(d_outs[1]),
            _ptr(d_outs[2]), _ptr(d_outs[0]), _pointers(grads[n_init:]), _ptr(dx),
            _pointers(h0), _pointers(c0),
        )  # fmt: skip
        if ctx.masked:  # d original = d(original ⊙ mask) ⊙ mask
            torch._foreach_mul_([grads[n_init + i] for i in ctx.masked], rest[: len(ctx.masked)])
        grads = [
            g if need else None for g, need in zip(grads, ctx.needs_input_grad[7:], strict=True)
        ]
        return (None, None, None, None, dx, None, None, *grads)

    @staticmethod
    def _double_backward(ctx, x, flat, n_init, premask, d_outs):
        layers = len(ctx.wiring.hidden)

        def recompute():
            h0, c0 = flat[: min(n_init, layers)] or None, flat[layers:n_init] or None
            weights = list(flat[n_init:])
            for i, mask in enumerate(premask):  # the engine's function: W ⊙ mask
                if mask is not None:
                    weights[i] = weights[i] * mask
            result = torch_stack(ctx.wiring, x, ctx.lengths, weights, h0, c0, outputs=True)
            return result.outputs, result.final, result.final_c

        wanted = [ctx.needs_input_grad[4], *ctx.needs_input_grad[7:]]
        dx, *grads = recomputed_grads(recompute, [x, *flat], wanted, d_outs)
        return (None, None, None, None, dx, None, None, *grads)


def run_stack(
    wiring, x, lengths, weights, h0=None, c0=None, outputs=False, masks=None, premask=None
) -> StackResult:
    """The stack wired by ``wiring`` over batch-first ``x`` [B, T, F] with CPU int64
    ``lengths`` (``None``: all T), on the native engine where :func:`usable`, else on
    PyTorch's kernels; arguments and result as :func:`~hiddenstruct.nn.varlen.torch_stack`.
    Final cell states are returned for LSTM. ``masks`` (per layer ``(mask_ih, mask_hh)``,
    each may be ``None``; ``weights`` must already be masked by them) lets sparse weights
    run sparse products (see the module docstring). ``premask`` (one entry per weight, or
    ``None``): a weight with a mask there is given unmasked and the stack runs on
    ``weight ⊙ mask`` (:func:`~hiddenstruct.nn.rnn.engine_operands`); the others must be
    masked already."""
    if premask is not None and len(premask) != len(weights):
        raise ValueError(f"need one premask entry per weight ({len(weights)}), got {len(premask)}")
    if not usable(x):
        if premask is not None:
            weights = [w if m is None else w * m for w, m in zip(weights, premask, strict=True)]
        return torch_stack(wiring, x, lengths, weights, h0, c0, outputs)
    if lengths is None:
        lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.int64)
    init = [*(h0 or ()), *((c0 or ()) if h0 is not None else ())]
    if c0 is not None and h0 is None:
        raise ValueError("initial cell states c0 need initial hidden states h0")
    structure = sparse_structure(masks)
    if premask is not None and all(m is None for m in premask):
        premask = None
    out, final, final_c = NativeStack.apply(
        wiring, outputs, structure, premask, x, lengths, len(init), *init, *weights
    )
    return StackResult(out if outputs else None, final, final_c if wiring.mode.has_cell else None)
