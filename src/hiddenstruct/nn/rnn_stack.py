"""A whole recurrent stack as one autograd node on CPU, for the last layer's final state.

:meth:`MaskedRNN.encode` only needs the last layer's ``h`` at each sequence's last step.
Then the stack runs as one :class:`torch.autograd.Function` whose forward and backward
are each one TorchScript call over all layers: no per-layer autograd nodes, intermediate
outputs never become autograd tensors and nothing is zeroed at padded steps — causality
keeps padded steps out of every valid one, and since the only gradient enters each
sequence's last step of the last layer, padded steps get exactly zero gradient.

The backward keeps the per-step work to one broadcast multiply per group of gate
gradients and one matmul: each step's gate gradients are written into slots of one
buffer ``D`` [T, B, slots, H], laid out so that the matmul reads a contiguous slice, and
that matmul's input term is the next step's incoming output gradient (``addmm``). The GRU
carries ``dh·z`` through the matmul with an identity block stacked on ``W_hh``.
Equations and gate order are PyTorch's (GRU r,z,n; LSTM i,f,g,o).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from hiddenstruct.nn.rnn_fused import KINDS, _script


def _input_projection(inp: torch.Tensor, w_ih: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    steps, batch = inp.shape[0], inp.shape[1]
    flat = inp.reshape(steps * batch, inp.shape[2])
    return torch.addmm(bias, flat, w_ih.t()).view(steps, batch, w_ih.shape[0])


def _layer_forward(
    kind: str,
    inp: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> list[torch.Tensor]:
    """``[states [T+1, B, H] (states[0] = 0), *activations]`` of one layer from zero state:
    always four tensors (unused ones empty), so layer l's are ``saved[4l : 4l + 4]``."""
    steps, batch, hidden = inp.shape[0], inp.shape[1], w_hh.shape[1]
    states = torch.zeros(steps + 1, batch, hidden, dtype=inp.dtype, device=inp.device)
    hs = states.unbind(0)
    w_t = w_hh.t()
    none = torch.empty(0, dtype=inp.dtype, device=inp.device)
    if kind == "gru":
        # gates[t] = [x_rz + h·W_rzᵀ + biases, h·W_nᵀ + b_hn]: one in-place addmm on the
        # input projection, then r, z in place; n's rows are doubled for tanh = 2σ(2x) − 1.
        two = 2 * hidden
        scale = torch.ones(3 * hidden, 1, dtype=inp.dtype, device=inp.device)
        scale[two:] = 2.0
        bias = torch.cat([b_ih[:two] + b_hh[:two], b_ih[two:]]) * scale.view(-1)
        gates = _input_projection(inp, w_ih * scale, bias)
        x_n = gates[:, :, two:].clone()
        gates[:, :, two:] = 2.0 * b_hh[two:]
        w_t = (w_hh * scale).t()
        minus_one = torch.full((1,), -1.0, dtype=inp.dtype, device=inp.device)
        n = torch.empty_like(x_n)
        gs, g_rz = gates.unbind(0), gates[:, :, :two].unbind(0)
        rs, zs, hp_n = (
            gates[:, :, :hidden].unbind(0),
            gates[:, :, hidden:two].unbind(0),
            gates[:, :, two:].unbind(0),
        )
        x_ns, ns = x_n.unbind(0), n.unbind(0)
        for t in range(steps):
            torch.addmm(gs[t], hs[t], w_t, out=gs[t])
            g_rz[t].sigmoid_()
            torch.addcmul(x_ns[t], rs[t], hp_n[t], out=ns[t]).sigmoid_()
            torch.add(minus_one, ns[t], alpha=2.0, out=ns[t])
            torch.lerp(ns[t], hs[t], zs[t], out=hs[t + 1])
        return [states, gates, n, none]
    if kind == "lstm":
        # tanh(g) = 2σ(2g) − 1: with the g rows doubled one sigmoid covers all four gates.
        scale = torch.ones(4 * hidden, 1, dtype=inp.dtype, device=inp.device)
        scale[2 * hidden : 3 * hidden] = 2.0
        sig = _input_projection(inp, w_ih * scale, (b_ih + b_hh) * scale.view(-1))
        w_t = (w_hh * scale).t()
        minus_one = torch.full((1,), -1.0, dtype=inp.dtype, device=inp.device)
        cells = torch.zeros(steps + 1, batch, hidden, dtype=inp.dtype, device=inp.device)
        g_tc = torch.empty(2, steps, batch, hidden, dtype=inp.dtype, device=inp.device)
        sigs, gs, tcs, cs = sig.unbind(0), g_tc[0].unbind(0), g_tc[1].unbind(0), cells.unbind(0)
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
    if kind == "relu":
        xs = _input_projection(inp, w_ih, b_ih + b_hh).unbind(0)
        for t in range(steps):
            torch.relu(torch.addmm(xs[t], hs[t], w_t, out=xs[t]), out=hs[t + 1])
        return [states, none, none, none]
    # tanh(x) = 2σ(2x) − 1 (σ is the faster kernel): weights and biases doubled.
    xs = _input_projection(inp, 2.0 * w_ih, 2.0 * (b_ih + b_hh)).unbind(0)
    w_t = (2.0 * w_hh).t()
    minus_one = torch.full((1,), -1.0, dtype=inp.dtype, device=inp.device)
    for t in range(steps):
        torch.addmm(xs[t], hs[t], w_t, out=xs[t]).sigmoid_()
        torch.add(minus_one, xs[t], alpha=2.0, out=hs[t + 1])
    return [states, none, none, none]


def stack_forward(
    kind: str, x: torch.Tensor, last: torch.Tensor, weights: list[torch.Tensor]
) -> list[torch.Tensor]:
    """``[h_final [B, H], *saved]``: all layers over time-major ``x`` from zero states."""
    saved: list[torch.Tensor] = []
    inp = x
    for layer in range(len(weights) // 4):
        w = weights[4 * layer : 4 * layer + 4]
        saved += _layer_forward(kind, inp, w[0], w[1], w[2], w[3])
        inp = saved[-4][1:]
    final = inp[last, torch.arange(inp.shape[1], device=inp.device)]
    return [final] + saved


def _backward_factors(kind: str, saved: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per-step gate derivative factors, laid out to match the slots of ``D``."""
    states = saved[0]
    hidden = states.shape[2]
    if kind == "gru":  # [z, (d_r, d_z, d_hn) per dh] and k_n (d_xn per dh)
        gates, n = saved[1], saved[2]
        r, z, hp_n = (
            gates[:, :, :hidden],
            gates[:, :, hidden : 2 * hidden],
            gates[:, :, 2 * hidden :],
        )
        per_dh = torch.empty(n.shape[0], n.shape[1], 3, hidden, dtype=n.dtype, device=n.device)
        one_z = 1 - z
        k_n = torch.addcmul(one_z, one_z * n, n, value=-1.0)  # (1 − z)(1 − n²)
        torch.mul(k_n, r, out=per_dh[:, :, 2])
        k_r = per_dh[:, :, 2] * hp_n  # hp_n holds 2·(h·W_nᵀ + b_hn): halved below
        torch.addcmul(k_r, k_r, r, value=-1.0, out=per_dh[:, :, 0]).mul_(0.5)
        torch.mul((states[:-1] - n) * z, one_z, out=per_dh[:, :, 1])
        return [z.contiguous(), per_dh, k_n]
    if kind == "lstm":  # [f, (d_i, d_f, d_g) per dc], d_o per dh, dc per dh
        cells, sig, g, tc = saved[1], saved[2], saved[3][0], saved[3][1]
        i, f, o = sig[:, :, :hidden], sig[:, :, hidden : 2 * hidden], sig[:, :, 3 * hidden :]
        k1 = torch.empty(g.shape[0], g.shape[1], 4, hidden, dtype=g.dtype, device=g.device)
        k1[:, :, 0] = f
        torch.mul(torch.addcmul(i, i, i, value=-1.0), g, out=k1[:, :, 1])
        torch.mul(torch.addcmul(f, f, f, value=-1.0), cells[:-1], out=k1[:, :, 2])
        torch.addcmul(i, i * g, g, value=-1.0, out=k1[:, :, 3])
        o_tc = o * tc
        return [
            k1,
            torch.addcmul(o_tc, o_tc, o, value=-1.0),
            torch.addcmul(o, o_tc, tc, value=-1.0),
        ]
    h = states[1:]
    return [(h > 0).to(h.dtype) if kind == "relu" else 1 - h * h]


def _layer_backward(
    kind: str, d_out: torch.Tensor, saved: list[torch.Tensor], w_hh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The slots buffer ``D`` [T·B, slots·H] of gate gradients, given the output gradient,
    and for the GRU ``d_xn`` [T, B, H] (the input-side n gradient; else unused)."""
    steps, batch, hidden = d_out.shape[0], d_out.shape[1], d_out.shape[2]
    factors = _backward_factors(kind, saved)
    slots = 3 if kind == "gru" else (5 if kind == "lstm" else 1)
    d = torch.empty(steps, batch, slots, hidden, dtype=d_out.dtype, device=d_out.device)
    d_flat = d.view(steps, batch, slots * hidden)
    dh_all = d_out  # overwritten in place: step t's output gradient becomes its total dh
    dhs, dh_cols = dh_all.unbind(0), dh_all.unsqueeze(2).unbind(0)
    if kind == "gru":
        # d[t] = [d_r, d_z, d_hn] (PyTorch's order); dh·z is carried beside the matmul.
        z, per_dh = factors[0].unbind(0), factors[1].unbind(0)
        ds, rows = d.unbind(0), d_flat.unbind(0)
        for t in range(steps - 1, -1, -1):
            torch.mul(dh_cols[t], per_dh[t], out=ds[t])
            if t > 0:
                dhs[t - 1].addcmul_(dhs[t], z[t])
                torch.addmm(dhs[t - 1], rows[t], w_hh, out=dhs[t - 1])
        return d_flat.view(steps * batch, slots * hidden), dh_all * factors[2]
    if kind == "lstm":
        # slots: dc·f (carry), d_i, d_f, d_g, d_o; matmul slice = slots 1..4.
        k1s, k_o, a = factors[0].unbind(0), factors[1].unbind(0), factors[2].unbind(0)
        d1s, d_o, carries = d[:, :, 0:4].unbind(0), d[:, :, 4].unbind(0), d[:, :, 0].unbind(0)
        dc_all = torch.empty_like(d_out)
        dcs, dc_cols = dc_all.unbind(0), dc_all.unsqueeze(2).unbind(0)
        rows = d_flat[:, :, hidden:].unbind(0)
        for t in range(steps - 1, -1, -1):
            if t == steps - 1:
                torch.mul(dhs[t], a[t], out=dcs[t])
            else:
                torch.addcmul(carries[t + 1], dhs[t], a[t], out=dcs[t])
            torch.mul(dc_cols[t], k1s[t], out=d1s[t])
            torch.mul(dhs[t], k_o[t], out=d_o[t])
            if t > 0:
                torch.addmm(dhs[t - 1], rows[t], w_hh, out=dhs[t - 1])
        return d_flat.view(steps * batch, slots * hidden), d_out
    ks, ds = factors[0].unbind(0), d_flat.unbind(0)
    for t in range(steps - 1, -1, -1):
        torch.mul(dhs[t], ks[t], out=ds[t])
        if t > 0:
            torch.addmm(dhs[t - 1], ds[t], w_hh, out=dhs[t - 1])
    return d_flat.view(steps * batch, hidden), d_out


def _weight_grads(
    kind: str,
    d: torch.Tensor,
    d_xn: torch.Tensor,
    inp: torch.Tensor,
    h_prev: torch.Tensor,
    w_ih: torch.Tensor,
    need_in: bool,
) -> list[torch.Tensor]:
    """``[d_in, dW_ih, dW_hh, db_ih, db_hh]`` from the slots buffer (one matmul each)."""
    hidden = h_prev.shape[1]
    if kind == "gru":  # d_h = [d_r, d_z, d_hn]; d_x = [d_r, d_z, d_xn], written over d_h
        dw_hh, db_hh = torch.mm(d.t(), h_prev), d.sum(0)
        d.view(d.shape[0], 3, hidden)[:, 2] = d_xn.view(-1, hidden)
        grads = [torch.mm(d.t(), inp), dw_hh, d.sum(0), db_hh]
        if need_in:
            return [torch.mm(d, w_ih)] + grads
        return [torch.empty(0, dtype=d.dtype, device=d.device)] + grads
    d_pre = d[:, hidden:] if kind == "lstm" else d
    d_b = d_pre.sum(0)
    grads = [torch.mm(d_pre.t(), inp), torch.mm(d_pre.t(), h_prev), d_b, d_b]
    if need_in:
        return [torch.mm(d_pre, w_ih)] + grads
    return [torch.empty(0, dtype=d.dtype, device=d.device)] + grads


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
        d, d_xn = _layer_backward(kind, d_out, mine, w_hh)
        inp = x if layer == 0 else saved[4 * (layer - 1)][1:]
        inp_flat = inp.reshape(-1, inp.shape[2])
        h_prev = mine[0][:-1].reshape(-1, mine[0].shape[2])
        need_in = layer > 0 or need_dx
        grads = _weight_grads(kind, d, d_xn, inp_flat, h_prev, w_ih, need_in) + grads
        d_out = grads.pop(0).view(inp.shape) if need_in else grads.pop(0)
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
