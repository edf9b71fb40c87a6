"""BERT encoder with Hugging Face ``BertModel``'s parameter names and ``config.json`` fields.

Example::

    model = bert_tiny()
    out = model(torch.tensor([[101, 7592, 102]]))
    out.last_hidden_state.shape, out.pooler_output.shape   # (1, 3, 128), (1, 128)
"""
import math
import re
from collections import namedtuple
from types import SimpleNamespace

import framework as torch
import framework.nn as nn

from ._hf import activation, additive_mask, resolve_config

__all__ = ["BertModel", "BaseModelOutputWithPooling", "MODELS", "remap_state_dict"]

BaseModelOutputWithPooling = namedtuple("BaseModelOutputWithPooling", ["last_hidden_state", "pooler_output"])
BaseModelOutputWithPooling.__doc__ = ("Token states (batch, seq, hidden) and the pooled first-token state "
                                      "(batch, hidden), None without a pooler.")

# Hugging Face BertConfig's defaults, which are bert-base-uncased's shape.
DEFAULTS = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
                attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
                initializer_range=0.02, layer_norm_eps=1e-12, pad_token_id=0)
# Fields whose other values select variants this module does not implement.
UNSUPPORTED = dict(model_type="bert", position_embedding_type="absolute", is_decoder=False, add_cross_attention=False)


class BertEmbeddings(nn.Module):
    """Word + position + token-type embeddings, then LayerNorm and dropout."""

    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, input_ids, token_type_ids, position_ids):
        x = (self.word_embeddings(input_ids) + self.position_embeddings(position_ids)
             + self.token_type_embeddings(token_type_ids))
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention over the whole sequence (no causal mask)."""

    def __init__(self, c):
        super().__init__()
        if c.hidden_size % c.num_attention_heads:
            raise ValueError(f"BertModel: hidden_size ({c.hidden_size}) is not a multiple of "
                             f"num_attention_heads ({c.num_attention_heads})")
        self.num_heads, self.head_dim = c.num_attention_heads, c.hidden_size // c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.dropout = nn.Dropout(c.attention_probs_dropout_prob)

    def forward(self, hidden, mask):
        batch, length, width = hidden.shape

        def heads(x):
            return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.query(hidden)), heads(self.key(hidden)), heads(self.value(hidden))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores + mask
        probs = self.dropout(torch.softmax(scores, -1))
        return torch.matmul(probs, v).transpose(1, 2).reshape(batch, length, width)


class BertSelfOutput(nn.Module):
    """Projection of the attention result, dropout, and the residual LayerNorm."""

    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertAttention(nn.Module):
    """Self-attention followed by its output projection and residual LayerNorm."""

    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c)

    def forward(self, hidden, mask):
        return self.output(self.self(hidden, mask), hidden)


class BertIntermediate(nn.Module):
    """The feed-forward expansion: dense to intermediate_size, then ``hidden_act``."""

    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)
        self.act = activation(c.hidden_act, "hidden_act")

    def forward(self, hidden):
        return self.act(self.dense(hidden))


class BertOutput(nn.Module):
    """The feed-forward contraction back to hidden_size, dropout, and the residual LayerNorm."""

    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.intermediate_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertLayer(nn.Module):
    """One post-LayerNorm transformer encoder block."""

    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertOutput(c)

    def forward(self, hidden, mask):
        attended = self.attention(hidden, mask)
        return self.output(self.intermediate(attended), attended)


class BertEncoder(nn.Module):
    """The stack of ``num_hidden_layers`` encoder blocks."""

    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(c) for _ in range(c.num_hidden_layers))

    def forward(self, hidden, mask):
        for block in self.layer:
            hidden = block(hidden, mask)
        return hidden


class BertPooler(nn.Module):
    """``tanh(dense(h[:, 0]))``: the [CLS] token's state as a sentence vector."""

    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden):
        return self.activation(self.dense(hidden[:, 0]))


class BertModel(nn.Module):
    """The BERT encoder: ``forward(input_ids, attention_mask, token_type_ids, position_ids)`` returns
    ``BaseModelOutputWithPooling(last_hidden_state, pooler_output)``."""

    def __init__(self, config=None, add_pooling_layer=True, **overrides):
        super().__init__()
        self.config = SimpleNamespace(**resolve_config("BertModel", DEFAULTS, config, overrides, UNSUPPORTED))
        self.embeddings = BertEmbeddings(self.config)
        self.encoder = BertEncoder(self.config)
        self.pooler = BertPooler(self.config) if add_pooling_layer else None
        self.apply(self._init_weights)

    def _init_weights(self, module):
        # Hugging Face's initialisation: N(0, initializer_range) weights, zero biases. Embeddings start N(0, 1)
        # with a zero padding row, so scaling them gives exactly that without drawing the tables again.
        std = self.config.initializer_range
        with torch.no_grad():
            if isinstance(module, nn.Embedding):
                module.weight.mul_(std)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, std)
                nn.init.zeros_(module.bias)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None):
        if input_ids.dim() != 2:
            raise ValueError(f"BertModel: input_ids must have shape (batch, seq), got {list(input_ids.shape)}")
        batch, length = input_ids.shape
        if length > self.config.max_position_embeddings:
            raise ValueError(f"BertModel: sequence length {length} exceeds max_position_embeddings "
                             f"{self.config.max_position_embeddings}")
        device = input_ids.device
        if token_type_ids is None:  # one row, broadcast over the batch (an exported graph keeps its batch free)
            token_type_ids = torch.zeros(1, length, dtype=torch.long, device=device)
        if position_ids is None:
            position_ids = torch.arange(length, device=device).unsqueeze(0)
        hidden = self.embeddings(input_ids, token_type_ids, position_ids)
        mask = None if attention_mask is None else additive_mask(attention_mask, hidden.dtype)
        hidden = self.encoder(hidden, mask)
        return BaseModelOutputWithPooling(hidden, self.pooler(hidden) if self.pooler is not None else None)


def remap_state_dict(name, state_dict):
    """Turn a Hugging Face BERT checkpoint's names into BertModel's.

    Strips the ``bert.`` prefix of task models (BertForPreTraining, BertForMaskedLM, ...), renames old
    TensorFlow-converted ``LayerNorm.gamma/beta`` to ``weight/bias``, and drops what BertModel does not have: the
    pre-training heads ``cls.*``, task heads ``classifier.*`` and ``qa_outputs.*``, and the
    ``embeddings.position_ids`` buffer that older checkpoints saved.
    """
    dropped = re.compile(r"^(cls|classifier|qa_outputs)\.|(^|\.)embeddings\.position_ids$")
    remapped = {}
    for key, value in state_dict.items():
        if dropped.search(key):
            continue
        key = key[len("bert."):] if key.startswith("bert.") else key
        key = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key))
        remapped[key] = value
    return remapped


def bert_base_uncased(config=None, add_pooling_layer=True, **overrides):
    """BERT-base (12 layers, hidden 768, 12 heads, 30522-token uncased vocabulary)."""
    return BertModel(config, add_pooling_layer, **overrides)


def bert_large_uncased(config=None, add_pooling_layer=True, **overrides):
    """BERT-large (24 layers, hidden 1024, 16 heads)."""
    shape = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)
    return BertModel({**shape, **(config or {})}, add_pooling_layer, **overrides)


def bert_tiny(config=None, add_pooling_layer=True, **overrides):
    """BERT-tiny (2 layers, hidden 128, 2 heads; Google's bert_uncased_L-2_H-128_A-2 shape)."""
    shape = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512)
    return BertModel({**shape, **(config or {})}, add_pooling_layer, **overrides)


MODELS = {"bert-base-uncased": bert_base_uncased, "bert-large-uncased": bert_large_uncased,
          "bert-tiny": bert_tiny}
