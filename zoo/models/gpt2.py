"""GPT-2 with Hugging Face ``GPT2LMHeadModel``'s parameter names and layouts, a key-value cache and ``generate``.

Hugging Face stores GPT-2's projections as "Conv1D" weights of shape (in_features, out_features), the transpose of
nn.Linear's; :class:`Conv1D` keeps that layout, so published checkpoints load with unchanged names and shapes.

Example::

    model = gpt2(config={"n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 100}).eval()
    model.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=5)          # greedy, shape (1, 8)
"""
import math
import re
import warnings
from collections import namedtuple
from types import SimpleNamespace

import framework as torch
import framework.nn as nn
import framework.nn.functional as F

from ..progress import progress as progress_bar
from ._hf import activation, additive_mask, resolve_config

__all__ = ["Conv1D", "GPT2Model", "GPT2LMHeadModel", "CausalLMOutputWithPast", "top_k_filter", "top_p_filter",
           "MODELS", "remap_state_dict"]

CausalLMOutputWithPast = namedtuple("CausalLMOutputWithPast", ["loss", "logits", "past_key_values"])
CausalLMOutputWithPast.__doc__ = ("Shifted next-token loss (None without labels), logits (batch, seq, vocab), and "
                                  "per layer the (key, value) cache, each (batch, heads, seq, head_dim), or None.")

# Hugging Face GPT2Config's defaults, which are GPT-2 small's shape.
DEFAULTS = dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, n_inner=None,
                activation_function="gelu_new", resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1,
                layer_norm_epsilon=1e-5, initializer_range=0.02, scale_attn_weights=True,
                scale_attn_by_inverse_layer_idx=False, use_cache=True, tie_word_embeddings=True,
                bos_token_id=50256, eos_token_id=50256)
# Fields whose other values select variants this module does not implement.
UNSUPPORTED = dict(model_type="gpt2", add_cross_attention=False, reorder_and_upcast_attn=False)


class Conv1D(nn.Module):
    """``y = x W + b`` with ``W`` of shape (in_features, out_features): Hugging Face's GPT-2 projection layout."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x):
        return torch.matmul(x, self.weight) + self.bias

    def extra_repr(self):
        return f"nf={self.nf}, nx={self.weight.shape[0]}"


class GPT2Attention(nn.Module):
    """Causal multi-head self-attention that appends its keys and values to a cache."""

    def __init__(self, c, layer_idx):
        super().__init__()
        if c.n_embd % c.n_head:
            raise ValueError(f"GPT2Model: n_embd ({c.n_embd}) is not a multiple of n_head ({c.n_head})")
        self.n_head, self.head_dim = c.n_head, c.n_embd // c.n_head
        self.scale = 1.0 / math.sqrt(self.head_dim) if c.scale_attn_weights else 1.0
        if c.scale_attn_by_inverse_layer_idx:
            self.scale /= layer_idx + 1
        self.c_attn = Conv1D(3 * c.n_embd, c.n_embd)
        self.c_proj = Conv1D(c.n_embd, c.n_embd)
        self.attn_dropout = nn.Dropout(c.attn_pdrop)
        self.resid_dropout = nn.Dropout(c.resid_pdrop)

    def forward(self, hidden, layer_past, causal, mask):
        batch, length, width = hidden.shape

        def heads(x):
            return x.view(batch, length, self.n_head, self.head_dim).transpose(1, 2)

        q, k, v = (heads(part) for part in self.c_attn(hidden).split(width, dim=2))
        if layer_past is not None:
            k, v = torch.cat([layer_past[0], k], dim=-2), torch.cat([layer_past[1], v], dim=-2)
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        # The dtype's min (not -inf) as Hugging Face uses, so a row whose keys are all masked stays finite.
        scores = torch.where(causal, scores, torch.finfo(scores.dtype).min)
        if mask is not None:
            scores = scores + mask
        probs = self.attn_dropout(torch.softmax(scores, -1))
        out = torch.matmul(probs, v).transpose(1, 2).reshape(batch, length, width)
        return self.resid_dropout(self.c_proj(out)), (k, v)


class GPT2MLP(nn.Module):
    """The feed-forward block: expand to n_inner (4 * n_embd by default), activate, project back."""

    def __init__(self, c):
        super().__init__()
        inner = c.n_inner if c.n_inner is not None else 4 * c.n_embd
        self.c_fc = Conv1D(inner, c.n_embd)
        self.c_proj = Conv1D(c.n_embd, inner)
        self.act = activation(c.activation_function, "activation_function")
        self.dropout = nn.Dropout(c.resid_pdrop)

    def forward(self, hidden):
        return self.dropout(self.c_proj(self.act(self.c_fc(hidden))))


class GPT2Block(nn.Module):
    """One pre-LayerNorm transformer decoder block."""

    def __init__(self, c, layer_idx):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)
        self.attn = GPT2Attention(c, layer_idx)
        self.ln_2 = nn.LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)
        self.mlp = GPT2MLP(c)

    def forward(self, hidden, layer_past, causal, mask):
        attended, present = self.attn(self.ln_1(hidden), layer_past, causal, mask)
        hidden = hidden + attended
        return hidden + self.mlp(self.ln_2(hidden)), present


class GPT2Model(nn.Module):
    """Token and position embeddings, ``n_layer`` decoder blocks, and the final LayerNorm."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.n_positions, c.n_embd)
        self.drop = nn.Dropout(c.embd_pdrop)
        self.h = nn.ModuleList(GPT2Block(c, i) for i in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)

    def forward(self, input_ids, past_key_values=None, attention_mask=None, token_type_ids=None, position_ids=None,
                use_cache=True):
        """Final hidden states (batch, seq, n_embd) and, if ``use_cache``, each layer's (key, value)."""
        if input_ids.dim() != 2:
            raise ValueError(f"GPT2Model: input_ids must have shape (batch, seq), got {list(input_ids.shape)}")
        if past_key_values is not None and len(past_key_values) != len(self.h):
            raise ValueError(f"GPT2Model: past_key_values has {len(past_key_values)} layers, the model {len(self.h)}")
        length = input_ids.shape[1]
        past = 0 if past_key_values is None else past_key_values[0][0].shape[-2]
        if past + length > self.config.n_positions:
            raise ValueError(f"GPT2Model: {past} cached + {length} new tokens exceed n_positions "
                             f"{self.config.n_positions}")
        if attention_mask is not None and attention_mask.shape != (input_ids.shape[0], past + length):
            raise ValueError(f"GPT2Model: attention_mask must have shape (batch, cached + new tokens) = "
                             f"{[input_ids.shape[0], past + length]}, got {list(attention_mask.shape)}")
        device = input_ids.device
        if position_ids is None:
            position_ids = torch.arange(past, past + length, device=device).unsqueeze(0)
        hidden = self.wte(input_ids) + self.wpe(position_ids)
        if token_type_ids is not None:
            hidden = hidden + self.wte(token_type_ids)
        hidden = self.drop(hidden)
        # Query i (absolute position past + i) sees keys 0 .. past + i.
        causal = torch.ones(length, past + length, dtype=torch.bool, device=device).tril(diagonal=past)
        mask = None if attention_mask is None else additive_mask(attention_mask, hidden.dtype)
        presents = []
        for i, block in enumerate(self.h):
            hidden, present = block(hidden, None if past_key_values is None else past_key_values[i], causal, mask)
            presents.append(present)
        return self.ln_f(hidden), (tuple(presents) if use_cache else None)


class GPT2LMHeadModel(nn.Module):
    """GPT-2 with its language-model head (tied to the token embedding unless ``tie_word_embeddings=False``)."""

    def __init__(self, config=None, **overrides):
        super().__init__()
        self.config = SimpleNamespace(**resolve_config("GPT2LMHeadModel", DEFAULTS, config, overrides, UNSUPPORTED))
        self.transformer = GPT2Model(self.config)
        self.lm_head = nn.Linear(self.config.n_embd, self.config.vocab_size, bias=False)
        if self.config.tie_word_embeddings:
            self.lm_head.weight = self.transformer.wte.weight
        self.apply(self._init_weights)

    def _init_weights(self, module):
        # Hugging Face's initialisation: N(0, initializer_range), zero biases, and the residual projections scaled
        # by 1/sqrt(2 * n_layer). Embeddings start N(0, 1) and Conv1D weights N(0, 0.02), so rescaling them gives
        # exactly that distribution without drawing the (large) tables a second time.
        std = self.config.initializer_range
        with torch.no_grad():
            if isinstance(module, nn.Embedding):
                module.weight.mul_(std)
            elif isinstance(module, Conv1D):
                module.weight.mul_(std / 0.02)
            elif isinstance(module, nn.Linear) and module.weight is not self.transformer.wte.weight:
                nn.init.normal_(module.weight, 0.0, std)
            if isinstance(module, (GPT2Attention, GPT2MLP)):
                module.c_proj.weight.mul_(1.0 / math.sqrt(2 * self.config.n_layer))

    def forward(self, input_ids, past_key_values=None, attention_mask=None, token_type_ids=None, position_ids=None,
                labels=None, use_cache=None):
        """Logits for every position; with ``labels`` also the mean next-token cross-entropy (-100 is ignored)."""
        hidden, presents = self.transformer(input_ids, past_key_values, attention_mask, token_type_ids, position_ids,
                                            self.config.use_cache if use_cache is None else use_cache)
        logits = self.lm_head(hidden)
        loss = None
        if labels is not None:
            if labels.shape != input_ids.shape:
                raise ValueError(f"GPT2LMHeadModel: labels shape {list(labels.shape)} must equal input_ids shape "
                                 f"{list(input_ids.shape)}")
            shifted = logits[:, :-1].reshape(-1, logits.shape[-1])
            loss = F.cross_entropy(shifted, labels[:, 1:].reshape(-1), ignore_index=-100)
        return CausalLMOutputWithPast(loss, logits, presents)

    @torch.no_grad()
    def generate(self, input_ids, max_new_tokens=20, do_sample=False, temperature=1.0, top_k=None, top_p=None,
                 eos_token_id=None, pad_token_id=None, attention_mask=None, use_cache=True, generator=None,
                 progress=False):
        """Continue each row of ``input_ids`` (batch, seq) by up to ``max_new_tokens`` tokens.

        Greedy (argmax) unless ``do_sample``; sampling divides the logits by ``temperature``, keeps the ``top_k``
        most likely tokens and then the smallest set whose probability reaches ``top_p``, and draws with
        ``generator``. A row that emits ``eos_token_id`` (an id or a list of stop ids; None: no stop token) is
        finished: it is padded with ``pad_token_id`` (default: the first stop id) while other rows go on, and
        generation ends when every row is finished. ``attention_mask`` (batch, seq) marks left padding.
        ``use_cache=False`` recomputes the whole prefix each step (same tokens, quadratic cost). ``progress=True``
        shows a token bar on a terminal. Returns (batch, seq + generated).
        """
        if input_ids.dim() != 2:
            raise ValueError(f"generate: input_ids must have shape (batch, seq), got {list(input_ids.shape)}")
        if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"generate: max_new_tokens must be a non-negative int, got {max_new_tokens!r}")
        stop_ids = _stop_ids(eos_token_id, input_ids.device)
        if stop_ids is not None and pad_token_id is None:
            pad_token_id = int(stop_ids[0])
        pick = _sampler(temperature, top_k, top_p, generator) if do_sample else _greedy(temperature, top_k, top_p)

        tokens, fresh, past = input_ids, input_ids, None
        finished = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        bar = progress_bar(total=max_new_tokens, desc="generate", unit="tok", enabled=None if progress else False)
        for _ in range(max_new_tokens):
            positions = None
            if attention_mask is not None:
                # Left padding shifts each row's positions; padded slots get a harmless position 1.
                positions = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 1)
                positions = positions[:, -fresh.shape[1]:]
            hidden, presents = self.transformer(fresh, past, attention_mask, position_ids=positions,
                                                use_cache=use_cache)
            # Only the last position's logits matter: the head is the largest matmul, so skip the prompt's.
            chosen = pick(self.lm_head(hidden[:, -1, :]))
            if stop_ids is not None:
                chosen = torch.where(finished, pad_token_id, chosen)
                finished = finished | torch.isin(chosen, stop_ids)
            tokens = torch.cat([tokens, chosen[:, None]], dim=1)
            if attention_mask is not None:
                attention_mask = torch.cat([attention_mask, attention_mask.new_ones(attention_mask.shape[0], 1)], 1)
            fresh, past = (chosen[:, None], presents) if use_cache else (tokens, None)
            bar.update(1)
            if stop_ids is not None and bool(finished.all()):
                break
        bar.close()
        return tokens


def _stop_ids(eos_token_id, device):
    if eos_token_id is None:
        return None
    ids = [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
    if not ids or not all(isinstance(i, int) for i in ids):
        raise ValueError(f"generate: eos_token_id must be an int or a non-empty list of ints, got {eos_token_id!r}")
    return torch.tensor(ids, device=device)


def _greedy(temperature, top_k, top_p):
    if temperature != 1.0 or top_k is not None or top_p is not None:
        # Hugging Face also ignores these under greedy decoding; say so rather than pass silently.
        warnings.warn("generate: temperature, top_k and top_p only apply with do_sample=True; decoding greedily",
                      UserWarning, stacklevel=4)  # past generate and its no_grad wrapper
    return lambda logits: logits.argmax(-1)


def _sampler(temperature, top_k, top_p, generator):
    if not isinstance(temperature, (int, float)) or temperature <= 0:
        raise ValueError(f"generate: temperature must be a positive number, got {temperature!r}")

    def pick(logits):
        logits = logits / temperature
        if top_k is not None:
            logits = top_k_filter(logits, top_k)
        if top_p is not None:
            logits = top_p_filter(logits, top_p)
        return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(1)

    return pick


def top_k_filter(logits, k):
    """``logits`` with every entry below the row's k-th largest set to -inf (ties with the k-th are kept)."""
    if not isinstance(k, int) or k <= 0:
        raise ValueError(f"top_k must be a positive int, got {k!r}")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits, p):
    """``logits`` keeping, per row, the most likely tokens until their probability first reaches ``p`` (at least
    one); the rest are set to -inf (nucleus sampling)."""
    if not isinstance(p, (int, float)) or not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p!r}")
    ordered, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(ordered, -1)
    # A token goes when the more likely tokens before it already hold p of the mass.
    drop_sorted = (torch.cumsum(probs, -1) - probs) >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def remap_state_dict(name, state_dict):
    """Turn a Hugging Face GPT-2 checkpoint's names into GPT2LMHeadModel's.

    Checkpoints saved from ``GPT2Model`` (the published ``gpt2`` files) lack the ``transformer.`` prefix: it is
    added. The causal-mask buffers older checkpoints saved (``attn.bias``, ``attn.masked_bias``) are dropped, and a
    missing tied ``lm_head.weight`` is taken from ``transformer.wte.weight``.
    """
    mask_buffer = re.compile(r"(^|\.)h\.\d+\.attn\.(bias|masked_bias)$")
    remapped = {}
    for key, value in state_dict.items():
        if mask_buffer.search(key):
            continue
        if not key.startswith(("transformer.", "lm_head.")):
            key = "transformer." + key
        remapped[key] = value
    if "lm_head.weight" not in remapped and "transformer.wte.weight" in remapped:
        remapped["lm_head.weight"] = remapped["transformer.wte.weight"]
    return remapped


def gpt2(config=None, **overrides):
    """GPT-2 small (124M: 12 layers, n_embd 768, 12 heads, 1024 positions)."""
    return GPT2LMHeadModel(config, **overrides)


def gpt2_medium(config=None, **overrides):
    """GPT-2 medium (355M: 24 layers, n_embd 1024, 16 heads)."""
    return GPT2LMHeadModel({"n_layer": 24, "n_embd": 1024, "n_head": 16, **(config or {})}, **overrides)


def gpt2_large(config=None, **overrides):
    """GPT-2 large (774M: 36 layers, n_embd 1280, 20 heads)."""
    return GPT2LMHeadModel({"n_layer": 36, "n_embd": 1280, "n_head": 20, **(config or {})}, **overrides)


def gpt2_xl(config=None, **overrides):
    """GPT-2 XL (1.5B: 48 layers, n_embd 1600, 25 heads)."""
    return GPT2LMHeadModel({"n_layer": 48, "n_embd": 1600, "n_head": 25, **(config or {})}, **overrides)


def distilgpt2(config=None, **overrides):
    """DistilGPT-2 (82M: GPT-2 small's shape with 6 layers)."""
    return GPT2LMHeadModel({"n_layer": 6, **(config or {})}, **overrides)


MODELS = {"gpt2": gpt2, "gpt2-medium": gpt2_medium, "gpt2-large": gpt2_large, "gpt2-xl": gpt2_xl,
          "distilgpt2": distilgpt2}
