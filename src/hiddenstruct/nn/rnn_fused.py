"""CPU recurrent layers with a hand-written backward (TorchScript loops, no autograd tape).

A layer runs over a padded, time-major batch ``x`` [T, B, F]: the input projections of all
steps are one matmul, the recurrence runs in a TorchScript loop without autograd
recording, and the gate activations are saved. The backward is a reverse TorchScript loop
(elementwise gate gradients and one matmul with ``W_hh`` per step), after which the weight
gradients and the input gradient are one matmul each over all steps. Variable lengths:
``valid`` [T, B, 1] (bool) freezes finished sequences, so the final state is each
sequence's state at its true last step, and outputs at padded steps are zero (as with
packed sequences). Equations and gate order are PyTorch's (GRU r,z,n; LSTM i,f,g,o).

Used by :class:`hiddenstruct.nn.rnn.MaskedRNN` on CPU; the caller passes the *masked*
weights, so autograd outside this function carries gradients back through the masks.
"""

from __future__ import annotations

import functools

import torch
from torch.autograd.function import once_differentiable

_script = functools.cache(torch.jit.script)
"""Compile a loop function with TorchScript on first use (importing stays cheap)."""


def _rnn_forward(xp: torch.Tensor, h: torch.Tensor, w_hh: torch.Tensor, relu: bool) -> torch.Tensor:
    steps = xp.shape[0]
    states = torch.empty(steps + 1, h.shape[0], h.shape[1], dtype=h.dtype, device=h.device)
    states[0] = h
    xs, hs = xp.unbind(0), states.unbind(0)
    w_t = w_hh.t()
    for t in range(steps):
        pre = torch.addmm(xs[t], hs[t], w_t)
        if relu:
            torch.relu(pre, out=hs[t + 1])
        else:
            torch.tanh(pre, out=hs[t + 1])
    return states


def _rnn_backward(
    d_out: torch.Tensor, dh: torch.Tensor, k: torch.Tensor, w_hh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    steps = d_out.shape[0]
    d_pre = torch.empty_like(k)
    ds, ks, dps = d_out.unbind(0), k.unbind(0), d_pre.unbind(0)
    for t in range(steps - 1, -1, -1):
        torch.mul(ds[t] + dh, ks[t], out=dps[t])
        dh = torch.mm(dps[t], w_hh)
    return d_pre, dh


def _gru_forward(
    xp: torch.Tensor, h: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    steps, batch, hidden = xp.shape[0], h.shape[0], h.shape[1]
    hp = torch.empty(steps, batch, 3 * hidden, dtype=h.dtype, device=h.device)
    rz = torch.empty(steps, batch, 2 * hidden, dtype=h.dtype, device=h.device)
    n = torch.empty(steps, batch, hidden, dtype=h.dtype, device=h.device)
    states = torch.empty(steps + 1, batch, hidden, dtype=h.dtype, device=h.device)
    states[0] = h
    x_rz = xp[:, :, : 2 * hidden].unbind(0)
    x_n = xp[:, :, 2 * hidden :].unbind(0)
    hps, hp_rz, hp_n = (
        hp.unbind(0),
        hp[:, :, : 2 * hidden].unbind(0),
        hp[:, :, 2 * hidden :].unbind(0),
    )
    rzs, rs, zs = rz.unbind(0), rz[:, :, :hidden].unbind(0), rz[:, :, hidden:].unbind(0)
    ns, hs = n.unbind(0), states.unbind(0)
    w_t = w_hh.t()
    for t in range(steps):
        torch.addmm(b_hh, h, w_t, out=hps[t])
        torch.sigmoid(x_rz[t] + hp_rz[t], out=rzs[t])
        torch.tanh(torch.addcmul(x_n[t], rs[t], hp_n[t]), out=ns[t])
        torch.lerp(ns[t], h, zs[t], out=hs[t + 1])
        h = hs[t + 1]
    return states, hp, rz, n


def _gru_backward(
    d_out: torch.Tensor,
    dh: torch.Tensor,
    k_n: torch.Tensor,
    k_z: torch.Tensor,
    k_r: torch.Tensor,
    r: torch.Tensor,
    z: torch.Tensor,
    w_hh: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    steps, batch, hidden = d_out.shape[0], dh.shape[0], dh.shape[1]
    d_h = torch.empty(steps, batch, 3 * hidden, dtype=dh.dtype, device=dh.device)
    d_xn = torch.empty(steps, batch, hidden, dtype=dh.dtype, device=dh.device)
    dhs, dhr, dhz = (
        d_h.unbind(0),
        d_h[:, :, :hidden].unbind(0),
        d_h[:, :, hidden : 2 * hidden].unbind(0),
    )
    dhn, dxn = d_h[:, :, 2 * hidden :].unbind(0), d_xn.unbind(0)
    ds, kns, kzs, krs, rs, zks = (
        d_out.unbind(0),
        k_n.unbind(0),
        k_z.unbind(0),
        k_r.unbind(0),
        r.unbind(0),
        z.unbind(0),
    )
    for t in range(steps - 1, -1, -1):
        dh_new = ds[t] + dh
        torch.mul(dh_new, kns[t], out=dxn[t])
        torch.mul(dh_new, kzs[t], out=dhz[t])
        torch.mul(dxn[t], krs[t], out=dhr[t])
        torch.mul(dxn[t], rs[t], out=dhn[t])
        dh = torch.addmm(dh_new * zks[t], dhs[t], w_hh)
    return d_h, d_xn, dh


def _lstm_forward(
    xp: torch.Tensor, h: torch.Tensor, c: torch.Tensor, w_hh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    steps, batch, hidden = xp.shape[0], h.shape[0], h.shape[1]
    sig = torch.empty(steps, batch, 4 * hidden, dtype=h.dtype, device=h.device)
    g = torch.empty(steps, batch, hidden, dtype=h.dtype, device=h.device)
    tc = torch.empty_like(g)
    states = torch.empty(steps + 1, batch, hidden, dtype=h.dtype, device=h.device)
    cells = torch.empty_like(states)
    states[0] = h
    cells[0] = c
    xs, sigs, gs = xp.unbind(0), sig.unbind(0), g.unbind(0)
    i_s, f_s = sig[:, :, :hidden].unbind(0), sig[:, :, hidden : 2 * hidden].unbind(0)
    o_s = sig[:, :, 3 * hidden :].unbind(0)
    tcs, hs, cs = tc.unbind(0), states.unbind(0), cells.unbind(0)
    w_t = w_hh.t()
    for t in range(steps):
        pre = torch.addmm(xs[t], hs[t], w_t)
        torch.sigmoid(pre, out=sigs[t])
        torch.tanh(pre[:, 2 * hidden : 3 * hidden], out=gs[t])
        torch.addcmul(f_s[t] * cs[t], i_s[t], gs[t], out=cs[t + 1])
        torch.tanh(cs[t + 1], out=tcs[t])
        torch.mul(o_s[t], tcs[t], out=hs[t + 1])
    return states, cells, sig, g, tc


def _lstm_backward(
    d_out: torch.Tensor,
    dh: torch.Tensor,
    dc_in: torch.Tensor,
    k: torch.Tensor,
    a: torch.Tensor,
    f: torch.Tensor,
    w_hh: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    steps, batch, hidden = d_out.shape[0], dh.shape[0], dh.shape[1]
    d_pre = torch.empty(steps, batch, 4, hidden, dtype=dh.dtype, device=dh.device)
    dps, dpf = d_pre.unbind(0), d_pre.view(steps, batch, 4 * hidden).unbind(0)
    ds, dcs, ks, as_, fs = d_out.unbind(0), dc_in.unbind(0), k.unbind(0), a.unbind(0), f.unbind(0)
    dc = torch.zeros_like(dh)
    for t in range(steps - 1, -1, -1):
        dh_new = ds[t] + dh
        dc_new = torch.addcmul(dc + dcs[t], dh_new, as_[t])
        torch.mul(ks[t], torch.stack([dc_new, dc_new, dc_new, dh_new], 1), out=dps[t])
        dh = torch.mm(dpf[t], w_hh)
        dc = dc_new * fs[t]
    return d_pre.view(steps, batch, 4 * hidden), dh, dc


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1, t.shape[-1])


def _weight_grads(x, h_prev_all, d_x, d_h, w_ih, needs):
    """(dx, dW_ih, dW_hh, db_ih, db_hh): one matmul each over all steps."""
    dx_flat, dh_flat = _flat(d_x), _flat(d_h)
    dx = torch.mm(dx_flat, w_ih).view(x.shape) if needs[0] else None
    dw_ih = torch.mm(dx_flat.t(), _flat(x)) if needs[6] else None
    dw_hh = torch.mm(dh_flat.t(), _flat(h_prev_all)) if needs[7] else None
    db_ih = dx_flat.sum(0) if needs[8] else None
    db_hh = dh_flat.sum(0) if needs[9] else None
    return dx, dw_ih, dw_hh, db_ih, db_hh


def _at_last(seq: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    return seq[last, torch.arange(seq.shape[1], device=seq.device)]


def _inject(grad: torch.Tensor | None, last: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A [T, B, H] tensor holding ``grad[b]`` at step ``last[b]`` (zeros elsewhere)."""
    out = torch.zeros_like(like)
    if grad is not None:
        out[last, torch.arange(like.shape[1], device=like.device)] = grad
    return out


class _Recurrent(torch.autograd.Function):
    """One layer over padded time-major ``x``; ``kind`` in tanh, relu, gru, lstm.

    Padded steps are computed but cannot influence earlier ones: outputs there are zeroed
    and the final state is read at ``last`` = length − 1; in the backward the final-state
    gradient enters at that step, so padded steps get exactly zero gradient.
    """

    @staticmethod
    def forward(ctx, x, valid, last, h0, c0, kind, w_ih, w_hh, b_ih, b_hh):
        xp = torch.addmm(b_ih, _flat(x), w_ih.t()).view(x.shape[0], x.shape[1], -1)
        ctx.kind = kind
        c = None
        if kind == "lstm":
            states, cells, sig, g, tc = _script(_lstm_forward)(xp + b_hh, h0, c0, w_hh)
            c = _at_last(cells[1:], last)
            saved = (cells, sig, g, tc)
        elif kind == "gru":
            states, hp, rz, n = _script(_gru_forward)(xp, h0, w_hh, b_hh)
            saved = (hp, rz, n)
        else:
            states = _script(_rnn_forward)(xp + b_hh, h0, w_hh, kind == "relu")
            saved = ()
        ctx.save_for_backward(x, valid, last, states, w_ih, w_hh, *saved)
        ctx.mark_non_differentiable(valid)
        h_new = states[1:]
        out = torch.where(valid, h_new, torch.zeros((), dtype=h_new.dtype, device=h_new.device))
        return out, _at_last(h_new, last), c

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, dh, dc):
        x, valid, last, states, w_ih, w_hh, *saved = ctx.saved_tensors
        kind = ctx.kind
        h_new = states[1:]
        hidden = h_new.shape[-1]
        vf = valid.to(h_new.dtype)
        d_out = _inject(dh, last, h_new) + (0 if d_out is None else d_out * vf)
        dh = torch.zeros_like(states[0])
        dc0 = None
        if kind == "lstm":
            cells, sig, g, tc = saved
            i, f, o = sig[..., :hidden], sig[..., hidden : 2 * hidden], sig[..., 3 * hidden :]
            k = torch.stack(
                [g * i * (1 - i), cells[:-1] * f * (1 - f), i * (1 - g * g), tc * o * (1 - o)], 2
            ) * vf.unsqueeze(-1)
            a = o * (1 - tc * tc) * vf
            d_x, dh0, dc0 = _script(_lstm_backward)(d_out, dh, _inject(dc, last, g), k, a, f, w_hh)
            d_h = d_x
        elif kind == "gru":
            hp, rz, n = saved
            r, z = rz[..., :hidden], rz[..., hidden:]
            k_n = (1 - z) * (1 - n * n) * vf
            k_z = (states[:-1] - n) * z * (1 - z) * vf
            k_r = hp[..., 2 * hidden :] * r * (1 - r)
            d_h, d_xn, dh0 = _script(_gru_backward)(d_out, dh, k_n, k_z, k_r, r, z, w_hh)
            d_x = torch.cat([d_h[..., : 2 * hidden], d_xn], -1)
        else:
            if kind == "relu":
                k = (h_new > 0).to(h_new.dtype) * vf
            else:
                k = (1 - h_new * h_new) * vf
            d_x, dh0 = _script(_rnn_backward)(d_out, dh, k, w_hh)
            d_h = d_x
        needs = ctx.needs_input_grad
        dx, dw_ih, dw_hh, db_ih, db_hh = _weight_grads(x, states[:-1], d_x, d_h, w_ih, needs)
        return (
            dx,
            None,
            None,
            dh0 if needs[3] else None,
            dc0 if needs[4] else None,
            None,
            dw_ih,
            dw_hh,
            db_ih,
            db_hh,
        )


KINDS = {"RNN_TANH": "tanh", "RNN_RELU": "relu", "GRU": "gru", "LSTM": "lstm"}
"""Mode name → kernel kind of :func:`fused_layer`."""


def step_masks(
    lengths: torch.Tensor | None, steps: int, batch: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(valid, last)``: bool [T, B, 1] whether step t lies inside sequence b, and each
    sequence's last step [B] (int64); without ``lengths`` every sequence has ``steps``."""
    if lengths is None:
        lengths = torch.full((batch,), steps, dtype=torch.int64)
    lengths = lengths.to("cpu", torch.int64)
    valid = (torch.arange(steps).unsqueeze(1) < lengths.view(1, -1)).unsqueeze(-1)
    return valid.to(device), (lengths - 1).to(device)


def fused_layer(
    mode: str,
    x: torch.Tensor,
    valid: torch.Tensor,
    last: torch.Tensor,
    state,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
):
    """Run one layer over time-major ``x`` [T, B, F]: ``(out [T, B, H], final state)``.

    ``state`` is ``h`` [B, H] or ``(h, c)`` for LSTM; outputs are zero at invalid steps and
    the final state is taken at each sequence's last valid step.
    """
    kind = KINDS[mode]
    if kind == "lstm":
        h0, c0 = state
        out, h, c = _Recurrent.apply(
            x.contiguous(),
            valid,
            last,
            h0.contiguous(),
            c0.contiguous(),
            kind,
            w_ih,
            w_hh,
            b_ih,
            b_hh,
        )
        return out, (h, c)
    out, h, _ = _Recurrent.apply(
        x.contiguous(), valid, last, state.contiguous(), None, kind, w_ih, w_hh, b_ih, b_hh
    )
    return out, h
