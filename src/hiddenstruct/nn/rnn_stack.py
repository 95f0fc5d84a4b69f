"""A whole recurrent stack as one autograd node on CPU, for the last layer's final state.

:meth:`MaskedRNN.encode` only needs the last layer's ``h`` at each sequence's last step.
Then the stack runs as one :class:`torch.autograd.Function` whose forward and backward
are each one TorchScript call over all layers: no per-layer autograd nodes, intermediate
outputs never become autograd tensors and nothing is zeroed at padded steps — causality
keeps padded steps out of every valid one, and since the only gradient enters each
sequence's last step of the last layer, padded steps get exactly zero gradient.

:func:`stack_final_hidden` runs the node on the C++ engine of
:mod:`hiddenstruct.nn.rnn_native` where it is usable (the default on CPU); the TorchScript
engine of this module is the fallback (no compiler, other dtypes, ``HIDDENSTRUCT_NATIVE=0``).

Per step, the forward does one in-place ``addmm`` on the input projection and the gate
math, with ``tanh(x) = 2σ(2x) − 1`` (those rows' weights doubled once: PyTorch's CPU
sigmoid is several times faster than its tanh). The backward first computes every
gate's derivative factor for all steps at once, then per step does one broadcast multiply
into a buffer of gate gradients laid out for the next matmul, and one in-place ``addmm``
that adds ``d·W_hh`` to the previous step's output gradient. Equations and gate order are
PyTorch's (GRU r,z,n; LSTM i,f,g,o).
"""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pack_padded_sequence

from hiddenstruct.nn import rnn_native
from hiddenstruct.nn.rnn_fused import KINDS, _script
from hiddenstruct.nn.varlen import pytorch_final_hidden, recomputed_grads


def _input_projection(inp: torch.Tensor, w_ih: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return torch.addmm(bias, inp, w_ih.t())


def _zero_states(inp: torch.Tensor, sizes: list[int], hidden: int) -> torch.Tensor:
    """[b_0 + N, H]: a zero block (the initial state), then one block per step."""
    return torch.zeros(sizes[0] + inp.shape[0], hidden, dtype=inp.dtype, device=inp.device)


def _previous(blocks: list[torch.Tensor], sizes: list[int]) -> list[torch.Tensor]:
    """Step t's previous state: the first ``sizes[t]`` rows of ``blocks[t]``."""
    out: list[torch.Tensor] = []
    for t in range(len(sizes)):
        out.append(blocks[t][: sizes[t]])
    return out


def _per_step(buffer: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    return buffer.split_with_sizes(sizes)


def _gru_forward(
    inp: torch.Tensor,
    sizes: list[int],
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> list[torch.Tensor]:
    """``[states, gates, n]``; gates = [r, z, 2·(h·W_nᵀ + b_hn)] (n's rows doubled)."""
    hidden, two = w_hh.shape[1], 2 * w_hh.shape[1]
    states = _zero_states(inp, sizes, hidden)
    hs = states.split_with_sizes([sizes[0]] + sizes)
    prev = _previous(hs, sizes)
    scale = torch.ones(3 * hidden, 1, dtype=inp.dtype, device=inp.device)
    scale[two:] = 2.0
    bias = torch.cat([b_ih[:two] + b_hh[:two], b_ih[two:]]) * scale.view(-1)
    gates = _input_projection(inp, w_ih * scale, bias)
    x_n = gates[:, two:].clone()
    gates[:, two:] = 2.0 * b_hh[two:]
    w_t = (w_hh * scale).t()
    minus_one = torch.full((1,), -1.0, dtype=inp.dtype, device=inp.device)
    n = torch.empty_like(x_n)
    gs, g_rz = _per_step(gates, sizes), _per_step(gates[:, :two], sizes)
    rs, zs = _per_step(gates[:, :hidden], sizes), _per_step(gates[:, hidden:two], sizes)
    hp_n, x_ns, ns = _per_step(gates[:, two:], sizes), _per_step(x_n, sizes), _per_step(n, sizes)
    for t in range(len(sizes)):
        torch.addmm(gs[t], prev[t], w_t, out=gs[t])
        g_rz[t].sigmoid_()
        torch.addcmul(x_ns[t], rs[t], hp_n[t], out=ns[t]).sigmoid_()
        torch.add(minus_one, ns[t], alpha=2.0, out=ns[t])
        torch.lerp(ns[t], prev[t], zs[t], out=hs[t + 1])
    return [states, gates, n]


def _lstm_forward(
    inp: torch.Tensor,
    sizes: list[int],
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> list[torch.Tensor]:
    """``[states, cells, sigmoids of all gates, (g, tanh c)]`` (g's rows doubled)."""
    hidden = w_hh.shape[1]
    states, cells = _zero_states(inp, sizes, hidden), _zero_states(inp, sizes, hidden)
    hs, cs = states.split_with_sizes([sizes[0]] + sizes), cells.split_with_sizes([sizes[0]] + sizes)
    h_prev, c_prev = _previous(hs, sizes), _previous(cs, sizes)
    scale = torch.ones(4 * hidden, 1, dtype=inp.dtype, device=inp.device)
    scale[2 * hidden : 3 * hidden] = 2.0
    sig = _input_projection(inp, w_ih * scale, (b_ih + b_hh) * scale.view(-1))
    w_t = (w_hh * scale).t()
    minus_one = torch.full((1,), -1.0, dtype=inp.dtype, device=inp.device)
    g_tc = torch.empty(2, inp.shape[0], hidden, dtype=inp.dtype, device=inp.device)
    sigs, gs, tcs = _per_step(sig, sizes), _per_step(g_tc[0], sizes), _per_step(g_tc[1], sizes)
    i_s, f_s = _per_step(sig[:, :hidden], sizes), _per_step(sig[:, hidden : 2 * hidden], sizes)
    g_s, o_s = (
        _per_step(sig[:, 2 * hidden : 3 * hidden], sizes),
        _per_step(sig[:, 3 * hidden :], sizes),
    )
    for t in range(len(sizes)):
        torch.addmm(sigs[t], h_prev[t], w_t, out=sigs[t])
        sigs[t].sigmoid_()
        torch.add(minus_one, g_s[t], alpha=2.0, out=gs[t])
        torch.addcmul(f_s[t] * c_prev[t], i_s[t], gs[t], out=cs[t + 1])
        torch.tanh(cs[t + 1], out=tcs[t])
        torch.mul(o_s[t], tcs[t], out=hs[t + 1])
    return [states, cells, sig, g_tc]


def _rnn_forward(
    inp: torch.Tensor,
    sizes: list[int],
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
    relu: bool,
) -> list[torch.Tensor]:
    """``[states]`` of a tanh or ReLU layer (tanh as 2σ(2x) − 1, weights doubled)."""
    states = _zero_states(inp, sizes, w_hh.shape[1])
    hs = states.split_with_sizes([sizes[0]] + sizes)
    prev = _previous(hs, sizes)
    factor = 1.0 if relu else 2.0
    xs = _per_step(_input_projection(inp, factor * w_ih, factor * (b_ih + b_hh)), sizes)
    w_t = (factor * w_hh).t()
    minus_one = torch.full((1,), -1.0, dtype=inp.dtype, device=inp.device)
    for t in range(len(sizes)):
        pre = torch.addmm(xs[t], prev[t], w_t, out=xs[t])
        if relu:
            torch.relu(pre, out=hs[t + 1])
        else:
            torch.add(minus_one, pre.sigmoid_(), alpha=2.0, out=hs[t + 1])
    return [states]


def stack_forward(
    kind: str, x: torch.Tensor, sizes: list[int], rows: torch.Tensor, weights: list[torch.Tensor]
) -> list[torch.Tensor]:
    """``[h_final [B, H], *saved]``: all layers over packed ``x`` from zero states.

    Each layer saves four tensors (unused ones empty), ``states`` [b_0 + N, H] first."""
    saved: list[torch.Tensor] = []
    inp = x
    none = torch.empty(0, dtype=x.dtype, device=x.device)
    for layer in range(len(weights) // 4):
        w_ih, w_hh, b_ih, b_hh = weights[4 * layer : 4 * layer + 4]
        if kind == "gru":
            mine = _gru_forward(inp, sizes, w_ih, w_hh, b_ih, b_hh)
        elif kind == "lstm":
            mine = _lstm_forward(inp, sizes, w_ih, w_hh, b_ih, b_hh)
        else:
            mine = _rnn_forward(inp, sizes, w_ih, w_hh, b_ih, b_hh, kind == "relu")
        saved += mine + [none] * (4 - len(mine))
        inp = mine[0][sizes[0] :]
    return [inp.index_select(0, rows)] + saved


def _carry_targets(dh_all: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    """Where step t adds ``d·W_hh``: the first ``sizes[t]`` rows of step t − 1 (t ≥ 1)."""
    return _previous([dh_all[:0]] + _per_step(dh_all, sizes)[:-1], sizes)


def _gru_backward(
    dh_all: torch.Tensor,
    saved: list[torch.Tensor],
    h_prev: torch.Tensor,
    sizes: list[int],
    w_hh: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(d [N, 3H] = [d_r, d_z, d_hn], d_xn [N, H])``; ``dh_all`` is overwritten."""
    gates, n = saved[1], saved[2]
    rows, hidden = n.shape[0], n.shape[1]
    r, z, hp_n = gates[:, :hidden], gates[:, hidden : 2 * hidden], gates[:, 2 * hidden :]
    per_dh = torch.empty(rows, 3, hidden, dtype=n.dtype, device=n.device)
    one_z = 1 - z
    k_n = torch.addcmul(one_z, one_z * n, n, value=-1.0)  # (1 − z)(1 − n²) = d_xn per dh
    torch.mul(k_n, r, out=per_dh[:, 2])
    k_r = per_dh[:, 2] * hp_n  # hp_n holds 2·(h·W_nᵀ + b_hn): halved below
    torch.addcmul(k_r, k_r, r, value=-1.0, out=per_dh[:, 0]).mul_(0.5)
    torch.mul((h_prev - n) * z, one_z, out=per_dh[:, 1])
    d = torch.empty_like(per_dh)
    dhs, dh_cols = _per_step(dh_all, sizes), _per_step(dh_all.unsqueeze(1), sizes)
    targets = _carry_targets(dh_all, sizes)
    zs, per_dhs = _per_step(z.contiguous(), sizes), _per_step(per_dh, sizes)
    ds, flat = _per_step(d, sizes), _per_step(d.view(rows, 3 * hidden), sizes)
    for t in range(len(sizes) - 1, -1, -1):
        torch.mul(dh_cols[t], per_dhs[t], out=ds[t])
        if t > 0:
            targets[t].addcmul_(dhs[t], zs[t])
            torch.addmm(targets[t], flat[t], w_hh, out=targets[t])
    return d.view(rows, 3 * hidden), dh_all * k_n


def _lstm_backward(
    dh_all: torch.Tensor,
    saved: list[torch.Tensor],
    c_prev: torch.Tensor,
    sizes: list[int],
    w_hh: torch.Tensor,
) -> torch.Tensor:
    """``d`` [N, 4H] = [d_i, d_f, d_g, d_o]; ``dh_all`` is overwritten."""
    sig, g, tc = saved[2], saved[3][0], saved[3][1]
    rows, hidden = g.shape[0], g.shape[1]
    i, f, o = sig[:, :hidden], sig[:, hidden : 2 * hidden], sig[:, 3 * hidden :]
    per_dc = torch.empty(rows, 4, hidden, dtype=g.dtype, device=g.device)
    per_dc[:, 0] = f
    torch.mul(torch.addcmul(i, i, i, value=-1.0), g, out=per_dc[:, 1])
    torch.mul(torch.addcmul(f, f, f, value=-1.0), c_prev, out=per_dc[:, 2])
    torch.addcmul(i, i * g, g, value=-1.0, out=per_dc[:, 3])
    o_tc = o * tc
    d_o_per_dh = _per_step(torch.addcmul(o_tc, o_tc, o, value=-1.0), sizes)
    dc_per_dh = _per_step(torch.addcmul(o, o_tc, tc, value=-1.0), sizes)
    # d[t] = [dc·f (carried to step t − 1), d_i, d_f, d_g, d_o]
    d = torch.empty(rows, 5, hidden, dtype=g.dtype, device=g.device)
    dc_all = torch.empty_like(dh_all)
    dhs, dcs, dc_cols = (
        _per_step(dh_all, sizes),
        _per_step(dc_all, sizes),
        _per_step(dc_all.unsqueeze(1), sizes),
    )
    dc_heads: list[torch.Tensor] = []  # step t's rows that step t + 1's carry reaches
    for t in range(len(sizes) - 1):
        dc_heads.append(dcs[t][: sizes[t + 1]])
    targets, per_dcs = _carry_targets(dh_all, sizes), _per_step(per_dc, sizes)
    d_dc, d_o, carries = (
        _per_step(d[:, :4], sizes),
        _per_step(d[:, 4], sizes),
        _per_step(d[:, 0], sizes),
    )
    flat = _per_step(d.view(rows, 5 * hidden)[:, hidden:], sizes)
    steps = len(sizes)
    for t in range(steps - 1, -1, -1):
        torch.mul(dhs[t], dc_per_dh[t], out=dcs[t])
        if t < steps - 1:
            dc_heads[t].add_(carries[t + 1])
        torch.mul(dc_cols[t], per_dcs[t], out=d_dc[t])
        torch.mul(dhs[t], d_o_per_dh[t], out=d_o[t])
        if t > 0:
            torch.addmm(targets[t], flat[t], w_hh, out=targets[t])
    return d.view(rows, 5 * hidden)[:, hidden:]


def _rnn_backward(
    dh_all: torch.Tensor, states: torch.Tensor, sizes: list[int], w_hh: torch.Tensor, relu: bool
) -> torch.Tensor:
    """``d`` [N, H], the pre-activation gradient; ``dh_all`` is overwritten."""
    h = states[sizes[0] :]
    per_dh = (h > 0).to(h.dtype) if relu else 1 - h * h
    d = torch.empty_like(h)
    dhs, per_dhs, ds = _per_step(dh_all, sizes), _per_step(per_dh, sizes), _per_step(d, sizes)
    targets = _carry_targets(dh_all, sizes)
    for t in range(len(sizes) - 1, -1, -1):
        torch.mul(dhs[t], per_dhs[t], out=ds[t])
        if t > 0:
            torch.addmm(targets[t], ds[t], w_hh, out=targets[t])
    return d


def _weight_grads(
    d_x: torch.Tensor, d_h: torch.Tensor, inp: torch.Tensor, h_prev: torch.Tensor
) -> list[torch.Tensor]:
    """``[dW_ih, dW_hh, db_ih, db_hh]`` from the input- and hidden-side gate gradients."""
    return [torch.mm(d_x.t(), inp), torch.mm(d_h.t(), h_prev), d_x.sum(0), d_h.sum(0)]


def _gru_weight_grads(
    d: torch.Tensor, d_xn: torch.Tensor, inp: torch.Tensor, h_prev: torch.Tensor
) -> list[torch.Tensor]:
    """As :func:`_weight_grads`; the input side's n gradient ``d_xn`` is written over
    ``d``'s ``d_hn`` once the hidden side is done, so ``d`` ends as ``[d_r, d_z, d_xn]``."""
    dw_hh, db_hh = torch.mm(d.t(), h_prev), d.sum(0)
    d.view(-1, 3, d_xn.shape[1])[:, 2] = d_xn
    return [torch.mm(d.t(), inp), dw_hh, d.sum(0), db_hh]


def _previous_rows(states: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """[N, H]: every step's previous state, in the packed order."""
    return torch.cat(_previous(states.split_with_sizes([sizes[0]] + sizes), sizes))


def stack_backward(
    kind: str,
    d_final: torch.Tensor,
    x: torch.Tensor,
    sizes: list[int],
    rows: torch.Tensor,
    weights: list[torch.Tensor],
    saved: list[torch.Tensor],
    need_dx: bool,
) -> list[torch.Tensor]:
    """``[dx, dW_ih, dW_hh, db_ih, db_hh per layer...]`` (``dx`` empty unless ``need_dx``)."""
    layers = len(weights) // 4
    top = saved[4 * (layers - 1)]
    d_out = torch.zeros(x.shape[0], top.shape[1], dtype=x.dtype, device=x.device)
    d_out.index_put_([rows], d_final)
    grads: list[torch.Tensor] = []
    for layer in range(layers - 1, -1, -1):
        mine = saved[4 * layer : 4 * (layer + 1)]
        w_ih, w_hh = weights[4 * layer], weights[4 * layer + 1]
        inp = x if layer == 0 else saved[4 * (layer - 1)][sizes[0] :]
        h_prev = _previous_rows(mine[0], sizes)
        if kind == "gru":
            d, d_xn = _gru_backward(d_out, mine, h_prev, sizes, w_hh)
            mine_grads = _gru_weight_grads(d, d_xn, inp, h_prev)
        else:
            if kind == "lstm":
                d = _lstm_backward(d_out, mine, _previous_rows(mine[1], sizes), sizes, w_hh)
            else:
                d = _rnn_backward(d_out, mine[0], sizes, w_hh, kind == "relu")
            mine_grads = _weight_grads(d, d, inp, h_prev)
        grads = mine_grads + grads
        if layer > 0 or need_dx:
            d_out = torch.mm(d, w_ih)
        else:
            d_out = torch.empty(0, dtype=x.dtype, device=x.device)
    return [d_out] + grads


class _StackFinal(torch.autograd.Function):
    """All layers from zero states over packed ``x``; returns ``h`` at the packed ``rows``.

    A double backward (``create_graph=True``, e.g. Hessian-vector products) differentiates
    a recomputation on PyTorch's kernels instead of the hand-written backward.
    """

    @staticmethod
    def forward(ctx, kind, sizes, x, rows, *weights):
        final, *saved = _script(stack_forward)(kind, x, sizes, rows, list(weights))
        ctx.kind, ctx.sizes, ctx.layers = kind, sizes, len(weights) // 4
        ctx.save_for_backward(x, rows, *weights, *saved)
        return final

    @staticmethod
    def backward(ctx, d_final):
        x, rows, *rest = ctx.saved_tensors
        weights, saved = rest[: 4 * ctx.layers], rest[4 * ctx.layers :]
        needs = ctx.needs_input_grad
        if torch.is_grad_enabled():
            dx, *grads = recomputed_grads(
                lambda: pytorch_final_hidden(ctx.kind, x, ctx.sizes, rows, weights),
                [x, *weights],
                [needs[2], *needs[4:]],
                d_final,
            )
            return (None, None, dx, None, *grads)
        dx, *grads = _script(stack_backward)(
            ctx.kind, d_final.contiguous(), x, ctx.sizes, rows, list(weights), list(saved), needs[2]
        )
        grads = [g if need else None for g, need in zip(grads, needs[4:], strict=True)]
        return (None, None, dx if needs[2] else None, None, *grads)


def stack_final_hidden(
    mode: str, x: torch.Tensor, lengths: torch.Tensor, layers: list[tuple[torch.Tensor, ...]]
) -> torch.Tensor:
    """The last layer's ``h`` [B, H] at each sequence's last step of batch-first ``x``.

    ``lengths``: CPU int64 [B] in [1, T]; ``layers``: per layer ``(w_ih, w_hh, b_ih, b_hh)``
    (the masked weights); all layers start from zero states. The batch is packed once, so
    each step only computes the sequences still running. Runs on :mod:`rnn_native` where
    usable, else on this module's TorchScript kernels.
    """
    weights = [w for layer in layers for w in layer]
    if rnn_native.usable(x):
        wiring = rnn_native.Wiring.chain(KINDS[mode], [w.shape[1] for w in weights[1::4]])
        return rnn_native.final_hidden(wiring, x, lengths, weights)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    sizes = packed.batch_sizes.tolist()
    starts = torch.tensor([0] + sizes[:-1], dtype=torch.int64).cumsum(0)
    rows = (starts[lengths - 1] + packed.unsorted_indices.cpu()).to(x.device)
    return _StackFinal.apply(KINDS[mode], sizes, packed.data, rows, *weights)
