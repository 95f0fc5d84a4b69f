"""Compaction: remove dead neurons from pruned MaskedDeepFFN / GraphNet models.

A neuron is *dead* when it has no live incoming weight (it outputs the constant σ(b)) or
no live outgoing weight (nobody reads it). Constant neurons are folded into the biases of
the neurons that read them, then neurons that feed nothing are dropped; both sweeps run in
topological order so the result is a fixpoint. Outputs are unchanged (up to rounding).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn.activations import get_activation
from hiddenstruct.nn.compact_any import compact_any
from hiddenstruct.nn.ffn import MaskedDeepFFN
from hiddenstruct.nn.graphnet import GraphNet
from hiddenstruct.nn.masking import apply_mask, get_mask, original


def compact(model: nn.Module, example_inputs=None, fold=None) -> nn.Module:
    """A smaller model without dead units and with identical outputs.

    ``MaskedDeepFFN`` and ``GraphNet`` are compacted neuron by neuron (dead neurons, constant
    neurons folded into biases) and stay of their kind. Any other model needs
    ``example_inputs`` (a tensor or a tuple of positional inputs): it is traced and every
    unit group that nobody reads (its readers' columns all masked, as
    :func:`hiddenstruct.pruning.prune_structured` leaves them) is removed — see
    :mod:`hiddenstruct.nn.compact_any`. ``fold``: modules (types or qualified names) that
    torch.fx should not look into, e.g. one with data-dependent control flow.
    """
    for kind, fn in COMPACTORS.items():
        if isinstance(model, kind):
            return fn(model)
    if example_inputs is not None:
        return compact_any(model, example_inputs, fold=fold)
    valid = ", ".join(k.__name__ for k in COMPACTORS)
    raise UsageError(
        f"compact needs example_inputs for {type(model).__name__} "
        f"(compact(model, example_inputs)); supported without them: {valid}"
    )


def _masked_parts(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """``(original values, mask)`` of ``module.weight`` (all-ones mask when unmasked)."""
    mask = get_mask(module, "weight")
    value = original(module, "weight").detach()
    return value, (torch.ones_like(value) if mask is None else mask.detach())


def _compact_ffn(model: MaskedDeepFFN) -> MaskedDeepFFN:
    if model.layer_norm:
        raise UsageError(
            "compact does not support layer_norm=True (removing neurons changes the norm)"
        )
    act = get_activation(model.activation).fn
    weights = [layer.weight.detach().clone() for layer in model.layers]
    biases = [layer.bias.detach().clone() for layer in model.layers]
    hidden = len(weights) - 1
    device = weights[0].device
    variable = [torch.ones(weights[0].shape[1], dtype=torch.bool, device=device)]  # inputs
    for k in range(hidden + 1):
        # fold constant neurons of the previous layer into this layer's bias
        if k > 0:
            const = ~variable[k]
            values = act(biases[k - 1][const])
            biases[k] += weights[k][:, const] @ values
            weights[k][:, const] = 0
        if k < hidden:
            variable.append((weights[k][:, variable[k]] != 0).any(dim=1))
    # backward: keep variable neurons that feed a kept neuron (outputs are always kept)
    keep = [None] * (hidden + 1)
    keep[hidden] = torch.ones(weights[hidden].shape[0], dtype=torch.bool, device=device)
    for k in range(hidden, 0, -1):
        feeds = (weights[k][keep[k]] != 0).any(dim=0)
        keep[k - 1] = feeds & variable[k]
    sizes = [max(int(k.sum()), 1) for k in keep[:-1]]
    new = MaskedDeepFFN(model.input_shape, model.output_size, sizes, model.activation, False)
    new.to(weights[0].device, weights[0].dtype)
    rows_prev = torch.arange(weights[0].shape[1], device=device)
    for k, layer in enumerate(model.layers):
        rows = keep[k].nonzero().flatten()
        value, mask = _masked_parts(layer)
        new_value = torch.zeros_like(new.layers[k].parametrizations.weight.original)
        new_mask = torch.zeros_like(new_value)
        new_bias = torch.zeros_like(new.layers[k].bias)
        if len(rows) and len(rows_prev):
            new_value[: len(rows), : len(rows_prev)] = value[rows][:, rows_prev]
            new_mask[: len(rows), : len(rows_prev)] = mask[rows][:, rows_prev] * (
                weights[k][rows][:, rows_prev] != 0
            )
        new_bias[: len(rows)] = biases[k][rows]
        with torch.no_grad():
            new.layers[k].parametrizations.weight.original.copy_(new_value)
            new.layers[k].bias.copy_(new_bias)
        apply_mask(new.layers[k], "weight", new_mask)
        rows_prev = rows
    return new.train(model.training)


def _compact_graphnet(net: GraphNet) -> GraphNet:
    act = get_activation(net.activation).fn
    p, q = net.layer_ptr, net.edge_ptr
    N, n0 = p[-1], p[1]
    src, dst = net.edge_src, net.edge_dst
    w = net.edges.weight.detach().clone()
    bias = net.bias.detach().clone()
    w_in = net.input_layer.weight.detach()
    w_ro = net.readout.weight.detach()
    b_ro = net.readout.bias.detach().clone()
    ridx = net.readout_index
    variable = torch.zeros(N, dtype=torch.bool, device=bias.device)
    variable[:n0] = (w_in != 0).any(dim=1)
    for layer in range(1, net.num_layers):
        e = slice(q[layer], q[layer + 1])
        const_src = ~variable[src[e]]
        bias.index_add_(0, dst[e][const_src], w[e][const_src] * act(bias[src[e][const_src]]))
        w[e][const_src] = 0
        live = w[e] != 0
        variable[dst[e][live]] = True
    const_r = ~variable[ridx]
    b_ro += w_ro[:, const_r] @ act(bias[ridx[const_r]])
    keep = torch.zeros(N, dtype=torch.bool, device=bias.device)
    keep[ridx] = variable[ridx] & (w_ro != 0).any(dim=0)
    for layer in range(net.num_layers - 1, 0, -1):
        e = slice(q[layer], q[layer + 1])
        feeds = (w[e] != 0) & keep[dst[e]]
        keep[src[e][feeds]] = True
    keep &= variable
    degenerate = not bool(keep.any())
    if degenerate:  # the output is constant: keep one readout vertex with no live weights
        keep[ridx[0]] = True
    kept = keep.nonzero().flatten().cpu()
    live_edges = (keep[src] & keep[dst] & (w != 0)).cpu()
    V = net.vertices
    G = nx.DiGraph()
    G.add_nodes_from(V[i] for i in kept.tolist())
    G.add_edges_from(
        (V[s], V[d])
        for s, d in zip(src.cpu()[live_edges].tolist(), dst.cpu()[live_edges].tolist(), strict=True)
    )
    readout = [V[i] for i in ridx.cpu().tolist() if keep[i]]
    new = GraphNet(G, net.input_shape, net.output_size, readout, net.activation, engine=net.engine)
    new.to(bias.device, bias.dtype)
    old_pos = torch.tensor([net.vertex_index[v] for v in new.vertices], dtype=torch.long)
    if not degenerate:
        _copy_parts(new.input_layer, net.input_layer, rows=old_pos[: new.layer_ptr[1]])
    keys = (net.edge_dst * N + net.edge_src).cpu().numpy()  # sorted: edges ordered by (dst, src)
    new_keys = (old_pos[new.edge_dst.cpu()] * N + old_pos[new.edge_src.cpu()]).numpy()
    edge_map = torch.from_numpy(np.searchsorted(keys, new_keys)).to(bias.device)
    _copy_parts(new.edges, net.edges, index=edge_map)
    old_ridx = {int(r): j for j, r in enumerate(ridx.cpu().tolist())}
    cols = torch.tensor([old_ridx[int(old_pos[r])] for r in new.readout_index.tolist()])
    if not degenerate:
        _copy_parts(new.readout, net.readout, cols=cols)
    with torch.no_grad():
        new.bias.copy_(bias[old_pos.to(bias.device)])
        new.readout.bias.copy_(b_ro)
    if degenerate:
        with torch.no_grad():
            new.bias.zero_()
        for module in (new.input_layer, new.readout):
            apply_mask(module, "weight", torch.zeros_like(get_mask(module, "weight")))
    return new.train(net.training)


def _copy_parts(new: nn.Module, old: nn.Module, rows=None, cols=None, index=None) -> None:
    """Copy original values and masks of ``old.weight`` (selected entries) into ``new``."""
    value, mask = _masked_parts(old)
    for sel_dim, sel in ((0, rows), (1, cols)):
        if sel is not None:
            value = value.index_select(sel_dim, sel.to(value.device))
            mask = mask.index_select(sel_dim, sel.to(mask.device))
    if index is not None:
        value, mask = value[index], mask[index]
    with torch.no_grad():
        original(new, "weight").copy_(value)
    apply_mask(new, "weight", mask)


COMPACTORS = {MaskedDeepFFN: _compact_ffn, GraphNet: _compact_graphnet}
