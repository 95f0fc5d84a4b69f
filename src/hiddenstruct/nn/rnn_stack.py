"""A whole recurrent stack as one autograd node on CPU, for the last layer's final state.

:meth:`MaskedRNN.encode` only needs the last layer's ``h`` at each sequence's last step.
Then the stack runs as one :class:`torch.autograd.Function` whose forward and backward
are each one TorchScript call over all layers: no per-layer autograd nodes, intermediate
outputs never become autograd tensors and nothing is zeroed at padded steps — causality
keeps padded steps out of every valid one, and since the only gradient enters each
sequence's last step of the last layer, padded steps get exactly zero gradient.

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
from torch.autograd.function import once_differentiable

from hiddenstruct.nn.rnn_fused import KINDS, _script


def _input_projection(inp: torch.Tensor, w_ih: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    steps, batch = inp.shape[0], inp.shape[1]
    flat = inp.reshape(steps * batch, inp.shape[2])
    return torch.addmm(bias, flat, w_ih.t()).view(steps, batch, w_ih.shape[0])


def _zero_states(inp: torch.Tensor, hidden: int) -> torch.Tensor:
    steps, batch = inp.shape[0], inp.shape[1]
    return torch.zeros(steps + 1, batch, hidden, dtype=inp.dtype, device=inp.device)


def _gru_forward(
    inp: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> list[torch.Tensor]:
    """``[states, gates, n]``; gates[t] = [r, z, 2·(h·W_nᵀ + b_hn)] (n's rows doubled)."""
    steps, hidden, two = inp.shape[0], w_hh.shape[1], 2 * w_hh.shape[1]
    states = _zero_states(inp, hidden)
    scale = torch.ones(3 * hidden, 1, dtype=inp.dtype, device=inp.device)
    scale[two:] = 2.0
    bias = torch.cat([b_ih[:two] + b_hh[:two], b_ih[two:]]) * scale.view(-1)
    gates = _input_projection(inp, w_ih * scale, bias)
    x_n = gates[:, :, two:].clone()
    gates[:, :, two:] = 2.0 * b_hh[two:]
    w_t = (w_hh * scale).t()
    minus_one = torch.full((1,), -1.0, dtype=inp.dtype, device=inp.device)
    n = torch.empty_like(x_n)
    hs, gs, g_rz = states.unbind(0), gates.unbind(0), gates[:, :, :two].unbind(0)
    rs, zs = gates[:, :, :hidden].unbind(0), gates[:, :, hidden:two].unbind(0)
    hp_n, x_ns, ns = gates[:, :, two:].unbind(0), x_n.unbind(0), n.unbind(0)
    for t in range(steps):
        torch.addmm(gs[t], hs[t], w_t, out=gs[t])
        g_rz[t].sigmoid_()
        torch.addcmul(x_ns[t], rs[t], hp_n[t], out=ns[t]).sigmoid_()
        torch.add(minus_one, ns[t], alpha=2.0, out=ns[t])
        torch.lerp(ns[t], hs[t], zs[t], out=hs[t + 1])
    return [states, gates, n]


def _lstm_forward(
    inp: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> list[torch.Tensor]:
    """``[states, cells, sigmoids of all gates, (g, tanh c)]`` (g's rows doubled)."""
    steps, hidden = inp.shape[0], w_hh.shape[1]
    states, cells = _zero_states(inp, hidden), _zero_states(inp, hidden)
    scale = torch.ones(4 * hidden, 1, dtype=inp.dtype, device=inp.device)
    scale[2 * hidden : 3 * hidden] = 2.0
    sig = _input_projection(inp, w_ih * scale, (b_ih + b_hh) * scale.view(-1))
    w_t = (w_hh * scale).t()
    minus_one = torch.full((1,), -1.0, dtype=inp.dtype, device=inp.device)
    g_tc = torch.empty(2, steps, inp.shape[1], hidden, dtype=inp.dtype, device=inp.device)
    hs, cs, sigs = states.unbind(0), cells.unbind(0), sig.unbind(0)
    gs, tcs = g_tc[0].unbind(0), g_tc[1].unbind(0)
    i_s, f_s = sig[:, :, :hidden].unbind(0), sig[:, :, hidden : 2 * hidden].unbind(0)
    g_s, o_s = sig[:, :, 2 * hidden : 3 * hidden].unbind(0), sig[:, :, 3 * hidden :].unbind(0)
    for t in range(steps):
        torch.addmm(sigs[t], hs[t], w_t, out=sigs[t])
        sigs[t].sigmoid_()
        torch.add(minus_one, g_s[t], alpha=2.0, out=gs[t])
        torch.addcmul(f_s[t] * cs[t], i_s[t], gs[t], out=cs[t + 1])
        torch.tanh(cs[t + 1], out=tcs[t])
        torch.mul(o_s[t], tcs[t], out=hs[t + 1])
    return [states, cells, sig, g_tc]


def _rnn_forward(
    inp: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
    relu: bool,
) -> list[torch.Tensor]:
    """``[states]`` of a tanh or ReLU layer."""
    states = _zero_states(inp, w_hh.shape[1])
    hs = states.unbind(0)
    if relu:
        xs = _input_projection(inp, w_ih, b_ih + b_hh).unbind(0)
        w_t = w_hh.t()
        for t in range(inp.shape[0]):
            torch.relu(torch.addmm(xs[t], hs[t], w_t, out=xs[t]), out=hs[t + 1])
        return [states]
    xs = _input_projection(inp, 2.0 * w_ih, 2.0 * (b_ih + b_hh)).unbind(0)
    w_t = (2.0 * w_hh).t()
    minus_one = torch.full((1,), -1.0, dtype=inp.dtype, device=inp.device)
    for t in range(inp.shape[0]):
        torch.addmm(xs[t], hs[t], w_t, out=xs[t]).sigmoid_()
        torch.add(minus_one, xs[t], alpha=2.0, out=hs[t + 1])
    return [states]


def stack_forward(
    kind: str, x: torch.Tensor, last: torch.Tensor, weights: list[torch.Tensor]
) -> list[torch.Tensor]:
    """``[h_final [B, H], *saved]``: all layers over time-major ``x`` from zero states.

    Each layer saves four tensors (unused ones empty), ``states`` [T+1, B, H] first."""
    saved: list[torch.Tensor] = []
    inp = x
    none = torch.empty(0, dtype=x.dtype, device=x.device)
    for layer in range(len(weights) // 4):
        w_ih, w_hh, b_ih, b_hh = weights[4 * layer : 4 * layer + 4]
        if kind == "gru":
            mine = _gru_forward(inp, w_ih, w_hh, b_ih, b_hh)
        elif kind == "lstm":
            mine = _lstm_forward(inp, w_ih, w_hh, b_ih, b_hh)
        else:
            mine = _rnn_forward(inp, w_ih, w_hh, b_ih, b_hh, kind == "relu")
        saved += mine + [none] * (4 - len(mine))
        inp = mine[0][1:]
    final = inp[last, torch.arange(inp.shape[1], device=inp.device)]
    return [final] + saved


def _gru_backward(
    dh_all: torch.Tensor, saved: list[torch.Tensor], w_hh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(d [T·B, 3H] = [d_r, d_z, d_hn], d_xn [T, B, H])``; ``dh_all`` is overwritten."""
    states, gates, n = saved[0], saved[1], saved[2]
    steps, batch, hidden = n.shape[0], n.shape[1], n.shape[2]
    r, z, hp_n = gates[:, :, :hidden], gates[:, :, hidden : 2 * hidden], gates[:, :, 2 * hidden :]
    per_dh = torch.empty(steps, batch, 3, hidden, dtype=n.dtype, device=n.device)
    one_z = 1 - z
    k_n = torch.addcmul(one_z, one_z * n, n, value=-1.0)  # (1 − z)(1 − n²) = d_xn per dh
    torch.mul(k_n, r, out=per_dh[:, :, 2])
    k_r = per_dh[:, :, 2] * hp_n  # hp_n holds 2·(h·W_nᵀ + b_hn): halved below
    torch.addcmul(k_r, k_r, r, value=-1.0, out=per_dh[:, :, 0]).mul_(0.5)
    torch.mul((states[:-1] - n) * z, one_z, out=per_dh[:, :, 1])
    d = torch.empty_like(per_dh)
    dhs, dh_cols = dh_all.unbind(0), dh_all.unsqueeze(2).unbind(0)
    zs, per_dhs = z.contiguous().unbind(0), per_dh.unbind(0)
    ds, rows = d.unbind(0), d.view(steps, batch, 3 * hidden).unbind(0)
    for t in range(steps - 1, -1, -1):
        torch.mul(dh_cols[t], per_dhs[t], out=ds[t])
        if t > 0:
            dhs[t - 1].addcmul_(dhs[t], zs[t])
            torch.addmm(dhs[t - 1], rows[t], w_hh, out=dhs[t - 1])
    return d.view(steps * batch, 3 * hidden), dh_all * k_n


def _lstm_backward(
    dh_all: torch.Tensor, saved: list[torch.Tensor], w_hh: torch.Tensor
) -> torch.Tensor:
    """``d`` [T·B, 5H] = [dc·f (carried), d_i, d_f, d_g, d_o]; ``dh_all`` is overwritten."""
    cells, sig, g, tc = saved[1], saved[2], saved[3][0], saved[3][1]
    steps, batch, hidden = g.shape[0], g.shape[1], g.shape[2]
    i, f, o = sig[:, :, :hidden], sig[:, :, hidden : 2 * hidden], sig[:, :, 3 * hidden :]
    per_dc = torch.empty(steps, batch, 4, hidden, dtype=g.dtype, device=g.device)
    per_dc[:, :, 0] = f
    torch.mul(torch.addcmul(i, i, i, value=-1.0), g, out=per_dc[:, :, 1])
    torch.mul(torch.addcmul(f, f, f, value=-1.0), cells[:-1], out=per_dc[:, :, 2])
    torch.addcmul(i, i * g, g, value=-1.0, out=per_dc[:, :, 3])
    o_tc = o * tc
    d_o_per_dh = torch.addcmul(o_tc, o_tc, o, value=-1.0).unbind(0)
    dc_per_dh = torch.addcmul(o, o_tc, tc, value=-1.0).unbind(0)
    d = torch.empty(steps, batch, 5, hidden, dtype=g.dtype, device=g.device)
    dc_all = torch.empty_like(dh_all)
    dhs, dcs, dc_cols = dh_all.unbind(0), dc_all.unbind(0), dc_all.unsqueeze(2).unbind(0)
    per_dcs, d_dc, d_o, carries = (
        per_dc.unbind(0),
        d[:, :, :4].unbind(0),
        d[:, :, 4].unbind(0),
        d[:, :, 0].unbind(0),
    )
    rows = d.view(steps, batch, 5 * hidden)[:, :, hidden:].unbind(0)
    for t in range(steps - 1, -1, -1):
        if t == steps - 1:
            torch.mul(dhs[t], dc_per_dh[t], out=dcs[t])
        else:
            torch.addcmul(carries[t + 1], dhs[t], dc_per_dh[t], out=dcs[t])
        torch.mul(dc_cols[t], per_dcs[t], out=d_dc[t])
        torch.mul(dhs[t], d_o_per_dh[t], out=d_o[t])
        if t > 0:
            torch.addmm(dhs[t - 1], rows[t], w_hh, out=dhs[t - 1])
    return d.view(steps * batch, 5 * hidden)[:, hidden:]


def _rnn_backward(
    dh_all: torch.Tensor, states: torch.Tensor, w_hh: torch.Tensor, relu: bool
) -> torch.Tensor:
    """``d`` [T·B, H], the pre-activation gradient; ``dh_all`` is overwritten."""
    h = states[1:]
    per_dh = (h > 0).to(h.dtype) if relu else 1 - h * h
    d = torch.empty_like(h)
    dhs, per_dhs, ds = dh_all.unbind(0), per_dh.unbind(0), d.unbind(0)
    for t in range(h.shape[0] - 1, -1, -1):
        torch.mul(dhs[t], per_dhs[t], out=ds[t])
        if t > 0:
            torch.addmm(dhs[t - 1], ds[t], w_hh, out=dhs[t - 1])
    return d.view(-1, h.shape[2])


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
    d.view(-1, 3, d_xn.shape[2])[:, 2] = d_xn.view(-1, d_xn.shape[2])
    return [torch.mm(d.t(), inp), dw_hh, d.sum(0), db_hh]


def stack_backward(
    kind: str,
    d_final: torch.Tensor,
    x: torch.Tensor,
    last: torch.Tensor,
    weights: list[torch.Tensor],
    saved: list[torch.Tensor],
    need_dx: bool,
) -> list[torch.Tensor]:
    """``[dx, dW_ih, dW_hh, db_ih, db_hh per layer...]`` (``dx`` empty unless ``need_dx``)."""
    layers = len(weights) // 4
    top = saved[4 * (layers - 1)]
    d_out = torch.zeros_like(top[1:])
    d_out.index_put_([last, torch.arange(top.shape[1], device=top.device)], d_final)
    grads: list[torch.Tensor] = []
    for layer in range(layers - 1, -1, -1):
        mine = saved[4 * layer : 4 * (layer + 1)]
        w_ih, w_hh = weights[4 * layer], weights[4 * layer + 1]
        inp = x if layer == 0 else saved[4 * (layer - 1)][1:]
        inp_flat = inp.reshape(-1, inp.shape[2])
        h_prev = mine[0][:-1].reshape(-1, mine[0].shape[2])
        if kind == "gru":
            d, d_xn = _gru_backward(d_out, mine, w_hh)
            mine_grads = _gru_weight_grads(d, d_xn, inp_flat, h_prev)
        else:
            if kind == "lstm":
                d = _lstm_backward(d_out, mine, w_hh)
            else:
                d = _rnn_backward(d_out, mine[0], w_hh, kind == "relu")
            mine_grads = _weight_grads(d, d, inp_flat, h_prev)
        grads = mine_grads + grads
        if layer > 0 or need_dx:
            d_out = torch.mm(d, w_ih).view(inp.shape)
        else:
            d_out = torch.empty(0, dtype=x.dtype, device=x.device)
    return [d_out] + grads


class _StackFinal(torch.autograd.Function):
    """All layers from zero states; returns the last layer's ``h`` at step ``last``."""

    @staticmethod
    def forward(ctx, kind, x, last, *weights):
        final, *saved = _script(stack_forward)(kind, x, last, list(weights))
        ctx.kind = kind
        ctx.save_for_backward(x, last, *weights, *saved)
        ctx.layers = len(weights) // 4
        return final

    @staticmethod
    @once_differentiable
    def backward(ctx, d_final):
        x, last, *rest = ctx.saved_tensors
        weights, saved = rest[: 4 * ctx.layers], rest[4 * ctx.layers :]
        needs = ctx.needs_input_grad
        dx, *grads = _script(stack_backward)(
            ctx.kind, d_final.contiguous(), x, last, list(weights), list(saved), needs[1]
        )
        grads = [g if need else None for g, need in zip(grads, needs[3:], strict=True)]
        return (None, dx if needs[1] else None, None, *grads)


def stack_final_hidden(
    mode: str, x: torch.Tensor, last: torch.Tensor, layers: list[tuple[torch.Tensor, ...]]
) -> torch.Tensor:
    """The last layer's ``h`` [B, H] at step ``last[b]`` of time-major ``x`` [T, B, F].

    ``layers``: per layer ``(w_ih, w_hh, b_ih, b_hh)`` (the masked weights); all layers
    start from zero states.
    """
    weights = [w for layer in layers for w in layer]
    return _StackFinal.apply(KINDS[mode], x.contiguous(), last, *weights)
