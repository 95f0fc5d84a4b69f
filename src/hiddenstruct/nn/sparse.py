"""Sparse inference: ``to_sparse(model)`` stores the weight matrices as CSR.

The returned module is for inference only (no autograd): it computes ``h ← σ(W h + b)``
with activations kept feature-major (``[F, B]``) so each layer is one ``addmm`` of a
``torch.sparse_csr`` matrix with a dense block (MKL / cuSPARSE kernels). On CPU this was the
fastest of CSR, COO and gather/``index_add`` kernels at batch 1 and 64 (see
``benchmarks/bench_sparse_inference.py``). Matrices that are small (< ``DENSE_BELOW``
entries) or not sparse (density > ``MAX_CSR_DENSITY``) stay dense, where a dense ``addmm``
is faster and the memory is negligible. Combine with :func:`hiddenstruct.nn.compact`:
``to_sparse(compact(model))``.

On CPU, a :class:`SparseFFN` without layer norms whose activation is ReLU, tanh, sigmoid or
identity runs its whole CSR chain in one call of the native kernels
(:mod:`hiddenstruct.nn.native`, ``hs_csr_chain``): at these sizes the time of the
per-layer calls above is mostly dispatch, not arithmetic.
"""

from __future__ import annotations

import copy
import ctypes
import warnings

import torch
from torch import nn

from hiddenstruct.errors import UsageError
from hiddenstruct.nn import native
from hiddenstruct.nn.activations import ACTIVATIONS
from hiddenstruct.nn.ffn import MaskedDeepFFN
from hiddenstruct.nn.graphnet import GraphNet

DENSE_BELOW = 4096  # matrices with fewer entries stay dense
MAX_CSR_DENSITY = 0.3  # denser matrices stay dense


def _storage(csr: torch.Tensor) -> torch.Tensor:
    """``csr`` itself, or its dense form when it is small or not sparse enough."""
    rows, cols = csr.shape
    numel = rows * cols
    if numel < DENSE_BELOW or csr._nnz() > MAX_CSR_DENSITY * numel:
        return csr.to_dense()
    return csr


def _csr(dense: torch.Tensor) -> torch.Tensor:
    return _storage(_to_csr(dense.detach()))


def _csr_from_parts(crow, col, values, size) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
        csr = torch.sparse_csr_tensor(crow, col, values, size=size, check_invariants=True)
        return _storage(csr)


def _nonzeros(weight: torch.Tensor) -> int:
    return int(weight._nnz()) if weight.layout == torch.sparse_csr else int(weight.count_nonzero())


NATIVE_ACTIVATIONS = {"identity": 0, "relu": 1, "tanh": 2, "sigmoid": 3}
"""Activations ``hs_csr_chain`` computes, by its codes."""


class CsrChain:
    """A :class:`SparseFFN`'s weights as the operands of one ``hs_csr_chain`` call (CSR with
    int64 row pointers and int32 columns, contiguous). Never copied or pickled (the pointers would dangle): a copy
    of the module rebuilds it on first use."""

    def __init__(self, weights, biases, activation: str) -> None:
        parts = []
        for w in weights:
            csr = w if w.layout == torch.sparse_csr else _to_csr(w)
            parts.append([csr.crow_indices().to(torch.int64), csr.col_indices().to(torch.int32)])
            parts[-1].append(csr.values())
        self.tensors = [[t.contiguous() for t in p] for p in parts]
        self.biases = [b.reshape(-1).contiguous() for b in biases]
        self.dtype = self.biases[0].dtype
        widths = [weights[0].shape[1], *(w.shape[0] for w in weights)]
        self.sizes = (ctypes.c_int64 * len(widths))(*widths)
        pointers = [
            (ctypes.c_void_p * len(ts))(*(t.data_ptr() for t in ts))
            for ts in (*zip(*self.tensors, strict=True), self.biases)
        ]
        code = NATIVE_ACTIVATIONS[activation]
        self.head = (self.dtype == torch.float64, code, len(weights), self.sizes, *pointers)
        self.call = native.library().hs_csr_chain

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """The chain on a CPU batch ``x`` of this dtype (any shape ``[B, ...]``)."""
        if x.dim() != 2 or not x.is_contiguous():
            x = x.reshape(x.shape[0], -1).contiguous()
        out = torch.empty(x.shape[0], self.sizes[len(self.biases)], dtype=x.dtype)
        self.call(*self.head, x.shape[0], x.data_ptr(), out.data_ptr())
        return out

    def __deepcopy__(self, memo):
        return None

    def __reduce__(self):
        return type(None), ()


def _to_csr(dense: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
        return dense.to_sparse_csr()


def _register(module: nn.Module, prefix: str, tensors: list[torch.Tensor]) -> None:
    for i, t in enumerate(tensors):
        module.register_buffer(f"{prefix}{i}", t)


class SparseFFN(nn.Module):
    """Inference-only MaskedDeepFFN with CSR (or small dense) weights ``weight{i}``."""

    def __init__(self, model: MaskedDeepFFN) -> None:
        super().__init__()
        self.activation = model.activation
        self.input_features = model.input_features
        self.num_layers = len(model.layers)
        _register(self, "weight", [_csr(layer.weight) for layer in model.layers])
        _register(self, "bias", [layer.bias.detach().clone()[:, None] for layer in model.layers])
        self.norms = nn.ModuleList(copy.deepcopy(n) for n in model.norms)
        self.buffer_names = tuple((f"bias{i}", f"weight{i}") for i in range(self.num_layers))
        self._chain: CsrChain | None = None

    def _native_chain(self, x: torch.Tensor) -> CsrChain | None:
        """Build the one-call path's operands if it applies to ``x``, else ``None``."""
        if not x.is_cpu or self.norms or self.activation not in NATIVE_ACTIVATIONS:
            return None
        if x.dtype not in (torch.float32, torch.float64) or not native.enabled():
            return None
        if native.library() is None:
            return None
        buffers = self._buffers
        self._chain = CsrChain(
            [buffers[w] for _, w in self.buffer_names],
            [buffers[b] for b, _ in self.buffer_names],
            self.activation,
        )
        return self._chain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, output]``; same values as the source model (no autograd)."""
        chain = self.__dict__.get("_chain") or self._native_chain(x)
        if chain is not None and x.is_cpu and x.dtype == chain.dtype and native.enabled():
            return chain.run(x)
        act = ACTIVATIONS[self.activation].fn
        buffers, norms, last = self._buffers, self.norms, self.num_layers - 1
        h = x.detach().reshape(x.shape[0], -1).t()
        for i, (bias, weight) in enumerate(self.buffer_names):  # Module.__getattr__ is slow
            h = torch.addmm(buffers[bias], buffers[weight], h)
            if i < last:
                if norms:
                    h = norms[i](h.t()).t()
                h = act(h)
        return h.t()

    def nonzeros(self) -> int:
        """Number of stored weights (non-zeros of all CSR matrices)."""
        return sum(_nonzeros(self._buffers[w]) for _, w in self.buffer_names)


class SparseGraphNet(nn.Module):
    """Inference-only GraphNet: per layer one CSR matrix from all earlier vertices."""

    def __init__(self, net: GraphNet) -> None:
        super().__init__()
        self.activation = net.activation
        self.layer_ptr = net.layer_ptr
        p, q = net.layer_ptr, net.edge_ptr
        w = net.edges.weight.detach()
        src, dst_local = net.edge_src, net.edge_dst_local
        blocks = []
        for layer in range(1, len(p) - 1):
            e = slice(q[layer], q[layer + 1])
            live = w[e] != 0  # edges are sorted by (target, source): CSR order already
            rows = p[layer + 1] - p[layer]
            counts = torch.bincount(dst_local[e][live], minlength=rows)
            crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
            size = (rows, p[layer])
            blocks.append(_csr_from_parts(crow, src[e][live], w[e][live], size))
        _register(self, "block", blocks)
        self.block_names = tuple(f"block{i}" for i in range(len(blocks)))
        self.register_buffer("input_weight", _csr(net.input_layer.weight))
        self.register_buffer("bias", net.bias.detach().clone()[:, None])
        self.register_buffer("readout_index", net.readout_index.clone())
        self.register_buffer("readout_weight", _csr(net.readout.weight))
        self.register_buffer("readout_bias", net.readout.bias.detach().clone()[:, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, output]``; same values as the source GraphNet (no autograd)."""
        act = ACTIVATIONS[self.activation].fn
        p, n0, buffers, bias = self.layer_ptr, self.layer_ptr[1], self._buffers, self.bias
        x = x.detach().reshape(x.shape[0], -1).t()
        H = x.new_empty(p[-1], x.shape[1])
        H[:n0] = act(torch.addmm(bias[:n0], self.input_weight, x))
        for layer, name in enumerate(self.block_names, start=1):  # Module.__getattr__ is slow
            v0, v1 = p[layer], p[layer + 1]
            H[v0:v1] = act(torch.addmm(bias[v0:v1], buffers[name], H[:v0]))
        read = H.index_select(0, self.readout_index)
        return torch.addmm(self.readout_bias, self.readout_weight, read).t()


CONVERTERS = {MaskedDeepFFN: SparseFFN, GraphNet: SparseGraphNet}


def to_sparse(model: nn.Module) -> nn.Module:
    """Inference module with CSR weights computing the same outputs as ``model`` (1e-5)."""
    for kind, cls in CONVERTERS.items():
        if isinstance(model, kind):
            return cls(model).eval()
    valid = ", ".join(k.__name__ for k in CONVERTERS)
    raise UsageError(f"to_sparse does not support {type(model).__name__}; supported: {valid}")
