"""Helpers shared by the models configured from a Hugging Face ``config.json`` (BERT, GPT-2)."""
import framework as torch
import framework.nn.functional as F

# Hugging Face's activation names (``hidden_act`` / ``activation_function``) and what each computes.
_ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_fast": lambda x: F.gelu(x, approximate="tanh"),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def activation(name, field):
    """The activation function Hugging Face calls ``name`` (e.g. ``"gelu_new"``), read from config ``field``."""
    if name not in _ACTIVATIONS:
        raise NotImplementedError(f"config {field}={name!r} is not supported; supported: {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


def resolve_config(model, defaults, config, overrides, unsupported):
    """Merge ``defaults`` <- ``config`` (a parsed config.json) <- ``overrides`` into one dict of known fields.

    Fields of config.json that do not shape the network (``architectures``, ``torch_dtype``, ...) are ignored;
    an unknown keyword override is a TypeError (a typo must not pass silently); ``unsupported`` maps a field to
    the one value we implement, and any other value raises NotImplementedError naming the field.
    """
    unknown = sorted(set(overrides) - set(defaults) - set(unsupported))
    if unknown:
        raise TypeError(f"{model}(): unexpected config argument(s) {unknown}; known: {sorted(defaults)}")
    merged = dict(defaults)
    for source in (config or {}, overrides):
        merged.update({key: value for key, value in source.items() if key in defaults})
    for source in (config or {}, overrides):
        for key, supported in unsupported.items():
            if key in source and source[key] != supported:
                raise NotImplementedError(f"{model}: config {key}={source[key]!r} is not supported "
                                          f"(only {supported!r})")
    return merged


def additive_mask(attention_mask, dtype):
    """A (batch, 1, 1, keys) mask to add to attention scores: 0 where ``attention_mask`` is 1, the dtype's min
    where it is 0 (Hugging Face's convention, so masked keys get exactly zero weight without NaNs)."""
    if attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must have shape (batch, keys), got {list(attention_mask.shape)}")
    keep = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - keep) * torch.finfo(dtype).min
