"""``scaled_dot_product_attention``, written with framework ops (PyTorch's math path)."""
import math

from ..._tensor import Tensor

__all__ = ["scaled_dot_product_attention"]


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """``softmax(Q K^T * scale + mask) V`` over the last two dims; fully masked rows give zeros, as PyTorch."""
    import framework
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    if not (query.dtype is key.dtype is value.dtype):
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead.")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError("scaled_dot_product_attention: query, key and value must have at least 2 dimensions")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: mismatched shapes query {list(query.shape)}, key "
                           f"{list(key.shape)}, value {list(value.shape)}")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        heads, kv_heads = query.shape[-3], key.shape[-3]
        if heads % kv_heads or value.shape[-3] != kv_heads:
            raise RuntimeError(f"scaled_dot_product_attention: number of heads in key/value ({kv_heads}) must divide "
                               f"the number of heads in query ({heads})")
        key = key.repeat_interleave(heads // kv_heads, dim=-3)
        value = value.repeat_interleave(heads // kv_heads, dim=-3)
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = framework.matmul(query, key.transpose(-2, -1)) * factor
    length, source = query.shape[-2], key.shape[-2]
    if is_causal:
        attn_mask = framework.ones(length, source, dtype=framework.bool, device=query.device).tril()
    if attn_mask is not None:
        if attn_mask.dtype is framework.bool:
            scores = framework.where(attn_mask, scores, float("-inf"))
        else:
            scores = scores + attn_mask
    weights = framework.softmax(scores, -1)
    # A row with every score masked has no distribution; PyTorch returns zeros there instead of NaN.
    blocked = (scores == float("-inf")).all(-1, keepdim=True)
    weights = framework.where(blocked, 0.0, weights)
    if dropout_p > 0.0:
        weights = framework.nn.functional.dropout(weights, dropout_p, training=True)  # torch's mask draws
    return framework.matmul(weights, value)
