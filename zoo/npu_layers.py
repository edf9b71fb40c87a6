"""Zoo models as the NPU simulator's layer lists: ``python -m npu_sim report --model vit_b_16`` reads them from here.

``npu_sim`` imports nothing of ours, so it finds this module through the ``npu_sim.models`` entry point (or by
importing ``zoo.npu_layers`` when the zoo is importable). The protocol (``sample_unit`` optional):

- :func:`names` — the zoo models this module can describe;
- :func:`sample_unit` — what one sample of a model is ("images", "sequences", "samples");
- :func:`layers` — one forward pass of a model at batch 1 on the CPU, with forward hooks recording every GEMM
  (``Conv2d``, ``Linear``, GPT-2's ``Conv1D``, and the two matmuls of each attention block), returned as plain dicts
  with ``npu_sim.kernels.conv.ConvShape``'s fields: ``name, cin, cout, h, w, k, stride, pad`` for ONE image (the
  simulator scales M by the batch). A linear layer over T tokens is a 1x1 convolution on a T x 1 map.

Attention's ``Q K^T`` and ``P V`` are batched GEMMs, one per head, whose B operand is an activation; they are recorded
as one GEMM with M = heads * queries (``K = head_dim, N = keys`` and ``K = keys, N = head_dim``), so their MACs are
exact but the simulator reads one B operand where the chip reads one per head and image. Non-GEMM work (norms,
pooling, activations, embeddings, softmax) is left out, as in npu_sim's built-in ResNet-50 list.
"""
import framework as torch
import framework.nn as nn

from .hub import list_models, load, model_family
from .models.bert import BertSelfAttention
from .models.gpt2 import Conv1D, GPT2Attention

DEFAULT_SEQ_LEN = 128
_TEXT_FAMILIES = ("bert", "gpt2")
_IMAGE_SIZES = {"resnet": 224, "yolo": 640}
_FAMILIES = _TEXT_FAMILIES + tuple(_IMAGE_SIZES) + ("vit", "lenet", "mlp")
# Attention modules whose projections are child modules (their hooks fire on their own): (heads attribute,
# the output projection the attention matmuls run before, or None when it lives outside the module).
_ATTENTION = {BertSelfAttention: ("num_heads", None), GPT2Attention: ("n_head", "c_proj")}
_UNSUPPORTED = tuple(getattr(nn, n) for n in ("Conv1d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
                                              "ConvTranspose3d", "Bilinear", "RNN", "LSTM", "GRU") if hasattr(nn, n))


def names():
    """Sorted names of the zoo models that :func:`layers` can describe."""
    return [n for n in list_models() if model_family(n) in _FAMILIES]


def sample_unit(name):
    """What one sample of model ``name`` is, for throughput lines: 'sequences', 'images' or 'samples'."""
    family = model_family(name)
    return "sequences" if family in _TEXT_FAMILIES else "samples" if family == "mlp" else "images"


def layers(name, seq_len=None):
    """The GEMM layers of one forward pass of zoo model ``name`` at batch 1, as dicts of ConvShape fields.

    ``seq_len`` is the token count of text models (default 128); other models take their native input size.
    Example: ``layers("resnet18")[0] == dict(name="conv1", cin=3, cout=64, h=224, w=224, k=7, stride=2, pad=3)``.
    """
    if name not in names():
        raise ValueError(f"zoo.npu_layers: no layer list for {name!r}; known models: {', '.join(names())}")
    family = model_family(name)
    if seq_len is not None and family not in _TEXT_FAMILIES:
        raise ValueError(f"zoo.npu_layers: seq_len applies to text models ({', '.join(_TEXT_FAMILIES)}), "
                         f"not to {name!r}")
    model = load(name).eval()
    return trace_layers(model, _example_input(model, family, DEFAULT_SEQ_LEN if seq_len is None else seq_len))


def trace_layers(model, example):
    """Run ``model(example)`` once without grad, hooks on its GEMM modules; returns the layer records in order.

    ``example`` must hold ONE sample (batch 1). Example: ``trace_layers(zoo.load("lenet"), torch.zeros(1, 1, 32, 32))``.
    """
    if example.shape[0] != 1:
        raise ValueError(f"zoo.npu_layers: the example input must hold one sample, got shape {tuple(example.shape)}")
    records, handles = [], []
    # MultiheadAttention records its own projections: a hook on its out_proj child would count it twice
    inside_mha = tuple(p + "." for p, m in model.named_modules() if isinstance(m, nn.MultiheadAttention))
    for prefix, module in model.named_modules():
        if inside_mha and prefix.startswith(inside_mha):
            continue
        hook = _hook_for(module, prefix, records)
        if hook is not None:
            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    return records


def _example_input(model, family, seq_len):
    if family in _TEXT_FAMILIES:
        if seq_len < 1:
            raise ValueError(f"zoo.npu_layers: seq_len must be positive, got {seq_len}")
        return torch.zeros(1, seq_len, dtype=torch.long)
    if family == "mlp":
        return torch.zeros(1, model.in_features)
    if family == "lenet":
        return torch.zeros(1, model.conv1.in_channels, 32, 32)
    size = model.image_size if family == "vit" else _IMAGE_SIZES[family]
    return torch.zeros(1, 3, size, size)


def _hook_for(module, prefix, records):
    """A forward hook appending ``module``'s GEMMs to ``records``, or None for modules without their own GEMM."""
    if isinstance(module, _UNSUPPORTED):
        raise NotImplementedError(f"zoo.npu_layers: {prefix} is a {type(module).__name__}, which has no NPU layer "
                                  f"record (only Conv2d, Linear, Conv1D and attention are described)")
    if isinstance(module, nn.Conv2d):
        return lambda m, args, out: records.append(_conv_record(prefix, m, args[0]))
    if isinstance(module, nn.Linear):     # weight (out, in)
        return lambda m, args, out: records.append(_linear_record(prefix, m.in_features, m.out_features, args[0]))
    if isinstance(module, Conv1D):        # weight (in, out)
        return lambda m, args, out: records.append(_linear_record(prefix, *m.weight.shape, args[0]))
    if isinstance(module, nn.MultiheadAttention):
        return lambda m, args, out: records.extend(_mha_records(prefix, m, args))
    if type(module) in _ATTENTION:
        heads_attr, before = _ATTENTION[type(module)]

        def hook(m, args, out):
            tokens = args[0].shape[-2]
            new = _attention_records(prefix, getattr(m, heads_attr), m.head_dim, tokens, tokens)
            at = len(records)
            if before is not None:   # the matmuls ran before the output projection recorded inside this forward
                at = max(i for i, r in enumerate(records) if r["name"] == f"{prefix}.{before}")
            records[at:at] = new
        return hook
    return None


def _record(name, cin, cout, h, w, k=1, stride=1, pad=0):
    return dict(name=name, cin=int(cin), cout=int(cout), h=int(h), w=int(w), k=int(k), stride=int(stride),
                pad=int(pad))


def _conv_record(prefix, conv, x):
    for arg in ("kernel_size", "stride", "dilation"):
        values = getattr(conv, arg)
        if len(set(values)) != 1:
            raise NotImplementedError(f"zoo.npu_layers: {prefix} has {arg}={values}; npu_sim layers are square")
    if conv.dilation[0] != 1 or conv.groups != 1:
        raise NotImplementedError(f"zoo.npu_layers: {prefix} has dilation={conv.dilation}, groups={conv.groups}; "
                                  f"npu_sim layer records describe dense undilated convolutions only")
    k = conv.kernel_size[0]
    if conv.padding == "valid":
        pad = 0
    elif conv.padding == "same":
        if k % 2 == 0:
            raise NotImplementedError(f"zoo.npu_layers: {prefix} has padding='same' with an even kernel {k} "
                                      f"(asymmetric padding); npu_sim layers pad symmetrically")
        pad = (k - 1) // 2
    elif len(set(conv.padding)) != 1:
        raise NotImplementedError(f"zoo.npu_layers: {prefix} has padding={conv.padding}; npu_sim layers are square")
    else:
        pad = conv.padding[0]
    return _record(prefix, conv.in_channels, conv.out_channels, x.shape[-2], x.shape[-1], k, conv.stride[0], pad)


def _linear_record(prefix, in_features, out_features, x):
    tokens = x.numel() // x.shape[-1]    # at batch 1 every leading dimension is a row of the GEMM
    return _record(prefix, in_features, out_features, tokens, 1)


def _attention_records(prefix, heads, head_dim, queries, keys):
    return [_record(f"{prefix}.scores", head_dim, keys, heads * queries, 1),
            _record(f"{prefix}.context", keys, head_dim, heads * queries, 1)]


def _mha_records(prefix, mha, args):
    """nn.MultiheadAttention runs its projections from parameters, not child modules: record all four GEMMs."""
    query, key = args[0], args[1]
    seq_dim = 1 if mha.batch_first and query.ndim == 3 else 0
    queries, keys = query.shape[seq_dim], key.shape[seq_dim]
    e = mha.embed_dim
    if query is key and key is args[2]:
        projections = [_record(f"{prefix}.in_proj", e, 3 * e, queries, 1)]
    else:
        projections = [_record(f"{prefix}.q_proj", e, e, queries, 1),
                       _record(f"{prefix}.k_proj", mha.kdim, e, keys, 1),
                       _record(f"{prefix}.v_proj", mha.vdim, e, keys, 1)]
    return projections + _attention_records(prefix, mha.num_heads, mha.head_dim, queries, keys) + [
        _record(f"{prefix}.out_proj", e, e, queries, 1)]
