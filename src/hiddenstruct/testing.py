"""Reference implementations for tests and benchmarks: the recurrent cells step by step.

``reference_step`` is one time step of PyTorch's cell equations with explicit gate
arithmetic (gate order GRU r, z, n; LSTM i, f, g, o); ``reference_stack`` loops over time
steps and layers with it — slow and obviously right, what the engines are checked against.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from hiddenstruct.recurrent_modes import get_mode


def reference_step(mode, x_t, state, w_ih, w_hh, b_ih, b_hh):
    """One step of ``mode``'s cell; returns ``(h_new, new_state)`` (state ``(h, c)`` for LSTM)."""
    name = get_mode(mode).name
    if name == "LSTM":
        h, c = state
        i, f, g, o = (x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)
    if name == "GRU":
        xr, xz, xn = (x_t @ w_ih.T + b_ih).chunk(3, dim=1)
        hr, hz, hn = (state @ w_hh.T + b_hh).chunk(3, dim=1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        h = (1 - z) * torch.tanh(xn + r * hn) + z * state
        return h, h
    pre = x_t @ w_ih.T + b_ih + state @ w_hh.T + b_hh
    h = torch.tanh(pre) if name == "RNN_TANH" else torch.relu(pre)
    return h, h


def _keep(alive, new, old):
    if isinstance(new, tuple):
        return tuple(torch.where(alive, n, o) for n, o in zip(new, old, strict=True))
    return torch.where(alive, new, old)


def reference_stack(
    mode,
    weights: Sequence[Sequence[torch.Tensor]],
    x: torch.Tensor,
    lengths=None,
    hx=None,
    dag: bool = False,
):
    """A stack over batch-first ``x`` [B, T, F], step by step: ``weights[l]`` is layer
    ``l``'s ``(w_ih, w_hh, b_ih, b_hh)``; layer ``l > 0`` reads layer ``l − 1``'s output of
    the same step, or with ``dag`` all earlier layers' (concatenated). A sequence's state
    stops changing after its last step. Returns the last layer's outputs [B, T, H] (zero at
    padded steps) and every layer's final state (``h`` or ``(h, c)``)."""
    spec = get_mode(mode)
    batch, steps, _ = x.shape
    lengths = torch.full((batch,), steps) if lengths is None else torch.as_tensor(lengths)
    states = []
    for layer, w in enumerate(weights):
        if hx is not None:
            states.append(hx[layer])
        else:
            h = x.new_zeros(batch, w[1].shape[1])
            states.append((h, h.clone()) if spec.has_cell else h)
    outputs = []
    for t in range(steps):
        alive = (t < lengths).unsqueeze(1).to(x.device)
        current: list[torch.Tensor] = []
        for layer, w in enumerate(weights):
            if layer == 0:
                inp = x[:, t]
            else:
                inp = torch.cat(current, dim=1) if dag else current[-1]
            h, new = reference_step(spec, inp, states[layer], *w)
            states[layer] = _keep(alive, new, states[layer])
            current.append(h)
        outputs.append(torch.where(alive, current[-1], torch.zeros_like(current[-1])))
    return torch.stack(outputs, dim=1), states


def random_stack(mode, sizes: Sequence[int], features: int, dag: bool, gen: torch.Generator):
    """Random float64 weights of a stack (``w_ih, w_hh, b_ih, b_hh`` per layer, chain or DAG
    wiring, all requiring grad) and the ``rand(*shape)`` that drew them, for gradchecks."""

    def rand(*shape):
        return (0.5 * torch.randn(*shape, generator=gen, dtype=torch.float64)).requires_grad_()

    gates, weights, offsets = get_mode(mode).gates, [], [0]
    for layer, hidden in enumerate(sizes):
        width = features if layer == 0 else (offsets[-1] if dag else sizes[layer - 1])
        weights += [rand(gates * hidden, width), rand(gates * hidden, hidden)]
        weights += [rand(gates * hidden), rand(gates * hidden)]
        offsets.append(offsets[-1] + hidden)
    return weights, rand
