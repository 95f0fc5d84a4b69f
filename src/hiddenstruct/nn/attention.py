"""Multi-head attention with some heads removed (what compaction makes of an
``nn.MultiheadAttention`` that lost heads)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hiddenstruct.nn.masking import apply_mask, get_mask, original


class CompactMultiheadAttention(nn.Module):
    """``nn.MultiheadAttention`` with some heads removed: separate q/k/v/out projections of
    ``heads`` heads of ``head_dim`` each; same call and output as the original (attention
    weights are not returned: ``None``; a model reading them keeps all its heads).

    ``kept_heads`` (a buffer) are the original head numbers, used to select the rows of a
    per-head ``attn_mask`` of shape ``[batch·num_heads, L, S]``.
    """

    def __init__(self, source: nn.MultiheadAttention, kept: list[int]) -> None:
        super().__init__()
        self.embed_dim, self.head_dim = source.embed_dim, source.head_dim
        self.num_heads, self.source_heads = len(kept), source.num_heads
        self.batch_first, self.dropout = source.batch_first, source.dropout
        self.register_buffer("kept_heads", torch.tensor(kept, dtype=torch.long))
        inner = self.num_heads * self.head_dim
        bias = source.in_proj_bias is not None
        device = source.out_proj.weight.device
        self.q_proj = nn.Linear(self.embed_dim, inner, bias=bias, device=device)
        self.k_proj = nn.Linear(source.kdim, inner, bias=bias, device=device)
        self.v_proj = nn.Linear(source.vdim, inner, bias=bias, device=device)
        self.out_proj = nn.Linear(inner, self.embed_dim, bias=source.out_proj.bias is not None)
        self.out_proj.to(device)
        rows = torch.tensor(
            [h * self.head_dim + t for h in kept for t in range(self.head_dim)], device=device
        )
        E = self.embed_dim
        for block, proj in enumerate((self.q_proj, self.k_proj, self.v_proj)):
            if source._qkv_same_embed_dim:
                name, offset = "in_proj_weight", block * E
            else:
                name, offset = f"{'qkv'[block]}_proj_weight", 0
            _copy_rows(proj, "weight", source, name, rows + offset)
            if bias:
                _copy_rows(proj, "bias", source, "in_proj_bias", rows + block * E)
        _copy_rows(self.out_proj, "weight", source.out_proj, "weight", rows, dim=1)
        if source.out_proj.bias is not None:
            _copy_rows(self.out_proj, "bias", source.out_proj, "bias", None)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, None]:
        unbatched = query.dim() == 2
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        if not self.batch_first or unbatched:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        B, L, S = query.shape[0], query.shape[1], key.shape[1]
        q = self.q_proj(query).view(B, L, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(key).view(B, S, self.num_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(value).view(B, S, self.num_heads, self.head_dim).transpose(1, 2)
        mask = None
        if attn_mask is not None:
            mask = _additive(attn_mask, q.dtype)
            if mask.dim() == 3:
                mask = mask.view(B, self.source_heads, L, S)[:, self.kept_heads]
        if key_padding_mask is not None:
            pad = _additive(key_padding_mask, q.dtype).view(B, 1, 1, S)
            mask = pad if mask is None else mask + pad
        dropout = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        out = self.out_proj(out.transpose(1, 2).reshape(B, L, self.num_heads * self.head_dim))
        if not self.batch_first or unbatched:
            out = out.transpose(0, 1)
        return (out.squeeze(1) if unbatched else out), None


def _additive(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean "not allowed" mask as an additive float mask (float masks pass through)."""
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            mask, float("-inf")
        )
    return mask.to(dtype)


def _copy_rows(new: nn.Module, name: str, old: nn.Module, old_name: str, rows, dim=0) -> None:
    """Copy ``old.<old_name>`` (entries ``rows`` along ``dim``; all when ``None``) into
    ``new.<name>``, with its mask when it has one."""
    value, mask = original(old, old_name).detach(), get_mask(old, old_name)
    if rows is not None:
        value = value.index_select(dim, rows)
        mask = None if mask is None else mask.index_select(dim, rows)
    with torch.no_grad():
        getattr(new, name).copy_(value)
    if mask is not None:
        apply_mask(new, name, mask)
