"""``MultiheadAttention`` and its functional form: projections into heads, scaled dot-product attention,
output projection."""
import math

import framework
from .. import functional as F
from .. import init
from ._utils import new_param
from .linear import Linear
from .module import Module

__all__ = ["MultiheadAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """A ``Linear`` under the name PyTorch gives attention's output projection (its repr and type name)."""


def _float_mask(mask, name, dtype):
    """A boolean mask (True = blocked) becomes an additive float mask of 0 / -inf; float masks pass through."""
    if mask is None:
        return None
    if mask.dtype is framework.bool:
        return framework.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    if not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask


def _project(query, key, value, same_kv, same_qkv, embed_dim, in_proj_weight, in_proj_bias, separate):
    e, b = embed_dim, in_proj_bias
    bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
    if separate is not None:
        return F.linear(query, separate[0], bq), F.linear(key, separate[1], bk), F.linear(value, separate[2], bv)
    w = in_proj_weight
    if same_qkv:
        return F.linear(query, w, b).chunk(3, -1)
    if same_kv:
        k, v = F.linear(key, w[e:], None if b is None else b[e:]).chunk(2, -1)
        return F.linear(query, w[:e], bq), k, v
    return F.linear(query, w[:e], bq), F.linear(key, w[e:2 * e], bk), F.linear(value, w[2 * e:], bv)


def _heads(t, name, static, batch_heads, head_dim):
    """(seq, batch, embed) -> (batch * heads, seq, head_dim), or the given ``static`` tensor of that layout."""
    if static is None:
        return t.reshape(t.shape[0], batch_heads, head_dim).transpose(0, 1)
    if static.ndim != 3 or static.shape[0] != batch_heads or static.shape[2] != head_dim:
        raise AssertionError(f"expecting static_{name} of shape ({batch_heads}, *, {head_dim}), but got "
                             f"{tuple(static.shape)}")
    return static


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """Multi-head attention on sequence-first (L, N, E) / (L, E) inputs: returns (output, weights or None).

    ``attn_mask`` (L, S) or (N * num_heads, L, S) and ``key_padding_mask`` (N, S) block where True (bool)
    or add to the scores (float). ``is_causal`` is a hint that ``attn_mask`` is the causal mask.
    """
    batched = query.ndim == 3
    same_kv, same_qkv = key is value, query is key and key is value  # one projection GEMM serves them all
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D "
                             "query tensor (key and value must match it)")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    length, batch, embed_dim = query.shape
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    if key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}")
    if (bias_k is not None or bias_v is not None) and (static_k is not None or static_v is not None):
        raise AssertionError("bias cannot be added to static key or value.")
    heads, head_dim = num_heads, embed_dim // num_heads
    attn_mask = _float_mask(attn_mask, "attn_mask", query.dtype)
    key_padding_mask = _float_mask(key_padding_mask, "key_padding_mask", query.dtype)
    separate = (q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight else None
    q, k, v = _project(query, key, value, same_kv, same_qkv, embed_dim, in_proj_weight, in_proj_bias, separate)
    if bias_k is not None and bias_v is not None:
        k = framework.cat([k, bias_k.expand(1, batch, embed_dim)])
        v = framework.cat([v, bias_v.expand(1, batch, embed_dim)])
        attn_mask = None if attn_mask is None else F.pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else F.pad(key_padding_mask, (0, 1))
    q = _heads(q, "q", None, batch * heads, head_dim)
    k = _heads(k, "k", static_k, batch * heads, head_dim)
    v = _heads(v, "v", static_v, batch * heads, head_dim)
    if add_zero_attn:
        k = framework.cat([k, k.new_zeros((batch * heads, 1, head_dim))], 1)
        v = framework.cat([v, v.new_zeros((batch * heads, 1, head_dim))], 1)
        attn_mask = None if attn_mask is None else F.pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else F.pad(key_padding_mask, (0, 1))
    source = k.shape[1]
    if attn_mask is not None:
        if attn_mask.ndim not in (2, 3):
            raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")
        expected = (length, source) if attn_mask.ndim == 2 else (batch * heads, length, source)
        if tuple(attn_mask.shape) != expected:
            raise RuntimeError(f"The shape of the {attn_mask.ndim}D attn_mask is {tuple(attn_mask.shape)}, but "
                               f"should be {expected}.")
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (batch, source):
            raise AssertionError(f"expecting key_padding_mask shape of {(batch, source)}, but got "
                                 f"{tuple(key_padding_mask.shape)}")
        padding = key_padding_mask.reshape(batch, 1, 1, source).expand(batch, heads, 1, source)
        padding = padding.reshape(batch * heads, 1, source)
        attn_mask = padding if attn_mask is None else attn_mask + padding
    if not training:
        dropout_p = 0.0
    # with dropout, the explicit path draws the same mask as PyTorch's attention (dropout on the weights)
    if need_weights or dropout_p > 0.0:
        scores = framework.bmm(q * math.sqrt(1.0 / head_dim), k.transpose(1, 2))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = framework.softmax(scores, -1)
        if dropout_p > 0.0:
            weights = F.dropout(weights, dropout_p)
        out = framework.bmm(weights, v)
        weights = weights.reshape(batch, heads, length, source)
        if not need_weights:
            weights = None
        elif average_attn_weights:
            weights = weights.mean(1)
    else:
        if attn_mask is not None and attn_mask.ndim == 3:
            attn_mask = attn_mask.reshape(batch, heads, attn_mask.shape[1], source)
        out = F.scaled_dot_product_attention(q.reshape(batch, heads, length, head_dim),
                                             k.reshape(batch, heads, source, head_dim),
                                             v.reshape(batch, heads, source, head_dim), attn_mask)
        out = out.reshape(batch * heads, length, head_dim)
        weights = None
    out = F.linear(out.transpose(0, 1).reshape(length, batch, embed_dim), out_proj_weight, out_proj_bias)
    if not batched:
        return out.squeeze(1), None if weights is None else weights.squeeze(0)
    return out, weights


class MultiheadAttention(Module):
    """Attention over ``num_heads`` heads of size ``embed_dim // num_heads`` (``torch.nn.MultiheadAttention``)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False, kdim=None,
                 vdim=None, batch_first=False, device=None, dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        if self._qkv_same_embed_dim:
            self.in_proj_weight = new_param((3 * embed_dim, embed_dim), device, dtype)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = new_param((embed_dim, embed_dim), device, dtype)
            self.k_proj_weight = new_param((embed_dim, self.kdim), device, dtype)
            self.v_proj_weight = new_param((embed_dim, self.vdim), device, dtype)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = new_param((3 * embed_dim,), device, dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k = new_param((1, 1, embed_dim), device, dtype)
            self.bias_v = new_param((1, 1, embed_dim), device, dtype)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        """Xavier-uniform input projections, zero biases, Xavier-normal ``bias_k`` / ``bias_v`` (as PyTorch)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """Attend ``query`` (L, N, E) over ``key`` / ``value`` (S, N, *) (batch first with ``batch_first``).

        Returns (output, weights averaged over heads unless ``average_attn_weights=False``, or None); masks as
        in ``multi_head_attention_forward``.
        """
        if self.batch_first and query.ndim == 3:
            # transpose once per distinct tensor, so self-attention keeps its single projection GEMM
            key_t = query.transpose(0, 1) if key is query else key.transpose(0, 1)
            value_t = key_t if value is key else value.transpose(0, 1)
            query = key_t if key is query else query.transpose(0, 1)
            key, value = key_t, value_t
        separate = not self._qkv_same_embed_dim
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias, self.bias_k,
            self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=separate, q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        if self.batch_first and query.ndim == 3:
            out = out.transpose(0, 1)
        return out, weights
