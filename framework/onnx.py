"""ONNX export of inference graphs (``torch.onnx.export``'s call shape).

The model is traced once in eval mode under no_grad (``framework.jit.trace``), optimised without fusion
(constant folding, simplification, CSE, DCE: exported graphs hold primitive ops only, never
``fused_elementwise``), made functional (in-place writes become new values), then each graph node becomes one or
a few ONNX nodes. Parameters and buffers become initializers named as in ``state_dict``. Shapes are the traced
ones, except the axes ``dynamic_axes`` names (see ``jit/dynamic_axes.py``). Needs the ``onnx`` package:
``pip install framework[export]``.

>>> framework.onnx.export(model, (x,), "model.onnx", input_names=["x"])     # doctest: +SKIP
"""
import enum

import numpy as np

__all__ = ["export", "TrainingMode", "SUPPORTED_OPS"]

_WHO = "framework.onnx.export"
DEFAULT_OPSET = 18
MIN_OPSET = 13


class TrainingMode(enum.IntEnum):
    """Which mode the model is exported in (``torch.onnx.TrainingMode``); only inference graphs are exported."""
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


def _onnx():
    try:
        import onnx
    except ImportError as error:
        raise ImportError(f"{_WHO} needs the 'onnx' package: pip install 'framework[export]' "
                          "(or pip install onnx onnxruntime)") from error
    return onnx


def export(model, args=(), f=None, *, kwargs=None, verbose=None, input_names=None, output_names=None,
           opset_version=None, dynamo=True, external_data=True, dynamic_shapes=None, custom_translation_table=None,
           report=False, optimize=True, verify=False, profile=False, dump_exported_program=False, artifacts_dir=".",
           export_params=True, keep_initializers_as_inputs=False, dynamic_axes=None, training=TrainingMode.EVAL,
           operator_export_type=None, do_constant_folding=True, custom_opsets=None, export_modules_as_functions=False,
           autograd_inlining=True):
    """Export ``model(*args, **kwargs)`` as an ONNX inference graph to ``f`` (a path or a binary file object).

    Honoured: ``input_names``, ``output_names`` (defaults ``input_0``..., ``output_0``...), ``opset_version``
    (13 to the installed onnx's newest; default 18), ``export_params`` (False: parameters become graph inputs),
    ``keep_initializers_as_inputs``, ``do_constant_folding`` / ``optimize`` (False skips our graph passes),
    ``verify`` (run the file in onnxruntime and compare with the eager outputs), ``verbose`` (print the graph),
    ``training`` (EVAL; PRESERVE for a model already in eval mode). ``dynamo`` and ``external_data`` choose
    torch's exporter and weight layout; there is one exporter here and weights are always embedded.
    ``dynamic_axes`` ({input or output name: {axis: dim name} or [axes]}): those axes become named free dims.
    The model is traced again with them at 2n + 1 (from 2 where the example has 1) and the file is run in
    onnxruntime at that size and at n + 1; a model whose graph depends on the size beyond reshapes raises
    NotImplementedError naming the op and line.
    Arguments this exporter cannot honour (``dynamic_shapes``, custom opsets and translation tables, reports,
    profiling) raise NotImplementedError. Returns the ``onnx.ModelProto``.
    """
    refused = {"dynamic_shapes": dynamic_shapes,
               "custom_translation_table": custom_translation_table, "custom_opsets": custom_opsets,
               "report": report, "profile": profile, "dump_exported_program": dump_exported_program,
               "export_modules_as_functions": export_modules_as_functions,
               "operator_export_type": operator_export_type}
    for name, value in refused.items():
        if value:
            raise NotImplementedError(f"{_WHO}: {name}={value!r} is not supported (graphs are specialised to the "
                                      "traced shapes and use the standard ONNX domain only)")
    if not autograd_inlining:
        raise NotImplementedError(f"{_WHO}: autograd_inlining=False is not supported (custom Functions are always "
                                  "traced through)")
    _check_training(training, model)
    onnx = _onnx()
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"{_WHO}: opset_version must be an int from {MIN_OPSET} to {newest}, got {opset_version!r}")
    from .jit.export_graph import check_destination, inference_graph
    if f is not None:
        check_destination(_WHO, f)
    inference = inference_graph(_WHO, model, args, kwargs, optimize=bool(do_constant_folding and optimize))
    if verbose:
        print(inference.graph)
    dynamic = None
    if dynamic_axes:
        inference, dynamic = _dynamic(model, args, kwargs, inference, dynamic_axes, input_names, output_names,
                                      bool(do_constant_folding and optimize))
    proto = _build(onnx, inference, opset, input_names, output_names, export_params, keep_initializers_as_inputs,
                   dynamic)
    onnx.checker.check_model(proto)
    if dynamic is not None:
        _check_generalises(proto, model, dynamic)
    if f is not None:
        data = proto.SerializeToString()
        if hasattr(f, "write"):
            f.write(data)
        else:
            with open(f, "wb") as handle:
                handle.write(data)
    if verify:
        _verify(proto, model, args, kwargs)
    return proto


def _check_training(training, model):
    if training is None or training is False or training == TrainingMode.EVAL:
        return
    if training == TrainingMode.PRESERVE:
        if getattr(model, "training", False):
            raise NotImplementedError(f"{_WHO}: training=PRESERVE with a model in training mode is not supported: "
                                      "only inference graphs are exported (call model.eval())")
        return
    raise NotImplementedError(f"{_WHO}: training={training!r} is not supported: only inference graphs (EVAL) are "
                              "exported")


def _verify(proto, model, args, kwargs):
    import framework
    from ._tensor import Tensor
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(f"{_WHO}(verify=True) needs onnxruntime: pip install 'framework[export]'") from error
    from .jit.capture import flatten
    args = (args,) if isinstance(args, Tensor) or not isinstance(args, (tuple, list)) else tuple(args)
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {i.name: leaf.numpy() for i, (_, leaf) in zip(session.get_inputs(),
             [p for p in flatten((args, kwargs or {})) if isinstance(p[1], Tensor)])}
    got = session.run(None, feeds)
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    try:
        with framework.no_grad():
            result = model(*args, **(kwargs or {}))
    finally:
        if was_training:
            model.train()
    expected = [leaf.numpy() for _, leaf in flatten(result) if isinstance(leaf, Tensor)]
    for k, (a, b) in enumerate(zip(got, expected)):
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True):
            detail = (f"max abs difference {np.max(np.abs(a.astype(np.float64) - b))}" if a.shape == b.shape
                      else f"shape {a.shape} against {b.shape}")
            raise RuntimeError(f"{_WHO}(verify=True): output {k} of onnxruntime differs from eager ({detail})")


# ----- dynamic axes ----------------------------------------------------------------------------------------
class _Dynamic:
    """What ``dynamic_axes`` asked for and found: dim names of the graph inputs and outputs, the dynamic dims of
    every value (``jit.dynamic_axes.DynamicDims``), and the example at the second size."""

    def __init__(self, input_dims, output_dims, dims, checks):
        self.input_dims, self.output_dims, self.dims = input_dims, output_dims, dims
        self.checks = checks  # (args, kwargs) at sizes the file is run at in onnxruntime


def _dynamic(model, args, kwargs, inference, dynamic_axes, input_names, output_names, optimize):
    import warnings

    from ._tensor import Tensor
    from .jit.dynamic_axes import other_size, tiled, trace_dynamic
    from .jit.export_graph import inference_graph
    if not isinstance(dynamic_axes, dict):
        raise TypeError(f"{_WHO}: dynamic_axes must be a dict of input/output names, got {type(dynamic_axes).__name__}")
    args = (args,) if isinstance(args, Tensor) or not isinstance(args, (tuple, list)) else tuple(args)
    kwargs = dict(kwargs or {})
    leaves = [("arg", i) for i, a in enumerate(args) if isinstance(a, Tensor)] + \
        [("kwarg", k) for k, v in kwargs.items() if isinstance(v, Tensor)]
    if len(leaves) != len(inference.args):
        raise NotImplementedError(f"{_WHO}: dynamic_axes needs the tensor inputs as plain positional or keyword "
                                  "arguments, each used by the model")
    ins = [(input_names[k] if input_names and k < len(input_names) else f"input_{k}") for k in range(len(leaves))]
    outs = [(output_names[k] if output_names and k < len(output_names) else f"output_{k}")
            for k in range(len(inference.outputs))]
    input_dims = [_axis_names(name, dynamic_axes.get(name), v.shape) for name, v in zip(ins, inference.args)]
    for key in dynamic_axes:
        if key not in ins and key not in outs:
            warnings.warn(f"Provided key {key} for dynamic axes is not a valid input/output name", UserWarning,
                          stacklevel=3)
    if not any(input_dims):
        raise ValueError(f"{_WHO}: dynamic_axes names no axis of an input ({sorted(dynamic_axes)}); inputs are "
                         f"{ins}")
    def resized(size, base=(args, kwargs)):
        new_args, new_kwargs = list(base[0]), dict(base[1])
        for (kind, key), axes in zip(leaves, input_dims):
            source = new_args if kind == "arg" else new_kwargs
            if axes:
                source[key] = Tensor._wrap(tiled(source[key].numpy(), sorted(axes), size), source[key].dtype)
        return tuple(new_args), new_kwargs

    if any(v.shape[axis] == 1 for v, axes in zip(inference.args, input_dims) for axis in axes):
        # a size-1 dim specialises the trace (an expand to it is an identity and goes): export from size 2
        args, kwargs = resized(lambda n: 2 if n == 1 else n)
        inference = inference_graph(_WHO, model, args, kwargs, optimize=optimize)
    args2, kwargs2 = resized(other_size, (args, kwargs))
    second = inference_graph(_WHO, model, args2, kwargs2, optimize=optimize)
    sizes = ", ".join(f"{name} {tuple(v.shape)}" for name, v in zip(ins, inference.args))
    dims = trace_dynamic(_WHO, f"traced with {sizes} and with the dynamic axes at 2n + 1", inference, second)
    output_dims = []
    for name, v in zip(outs, inference.outputs):
        asked = _axis_names(name, dynamic_axes.get(name), v.shape)
        found = {i: asked.get(i) or _input_dim_name(dims, inference.args, input_dims, v, i) or
                 f"{name}_dynamic_axes_{i + 1}" for i in sorted(dims.of(v))}
        output_dims.append({**found, **asked})
    checks = [(args2, kwargs2), resized(lambda n: n + 1, (args, kwargs))]
    return inference, _Dynamic(input_dims, output_dims, dims, checks)


def _input_dim_name(dims, inputs, input_dims, value, i):
    """The name of an input dim that dim ``i`` of ``value`` equals at both sizes (an output's batch is the input's)."""
    for x, names in zip(inputs, input_dims):
        for axis, dim_name in names.items():
            if dims.same_in_both(x, axis, value, i):
                return dim_name
    return None


def _axis_names(name, spec, shape):
    """{axis: dim name} from a ``dynamic_axes`` entry (a dict, or a list of axes named ``<name>_dynamic_axes_<k>``)."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        items = list(spec.items())
    elif isinstance(spec, (list, tuple)):
        items = [(axis, f"{name}_dynamic_axes_{k + 1}") for k, axis in enumerate(spec)]
    else:
        raise TypeError(f"{_WHO}: dynamic_axes[{name!r}] must be a dict {{axis: name}} or a list of axes, got "
                        f"{type(spec).__name__}")
    out = {}
    for axis, dim_name in items:
        if not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
            raise ValueError(f"{_WHO}: dynamic_axes[{name!r}] has axis {axis!r}, but {name} has {len(shape)} dims")
        out[axis % len(shape)] = str(dim_name)
    return out


def _check_generalises(proto, model, dynamic):
    """Run the file in onnxruntime at other sizes (2n + 1, n + 1); a mismatch means the graph is not size-free."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError as error:
        raise ImportError(f"{_WHO}(dynamic_axes=...) checks the exported graph at a second size in onnxruntime: "
                          "pip install 'framework[export]'") from error
    for args, kwargs in dynamic.checks:
        try:
            _verify(proto, model, args, kwargs)
        except Exception as error:  # onnxruntime's shape errors have their own types
            raise NotImplementedError(f"{_WHO}: dynamic_axes: the exported graph does not run correctly at other "
                                      f"sizes of the dynamic axes ({type(error).__name__}: {str(error)[:300]}); "
                                      "some op takes a size from the example") from None


# ----- building the ONNX graph ----------------------------------------------------------------------------
class _Builder:
    """Accumulates ONNX nodes and initializers; hands out unique names."""

    def __init__(self, onnx, opset):
        self.onnx, self.opset = onnx, opset
        self.nodes, self.initializers, self.names = [], [], {}
        self._taken, self.location = set(), None
        self.dynamic = None  # jit.dynamic_axes.DynamicDims when exporting with dynamic axes
        self.inputs = []  # graph input values with their ONNX names: where run-time sizes are read
        self._gathered = {}

    def dim_source(self, value, i):
        """A 1-element int64 tensor holding dim ``i`` of ``value`` at run time, read off a graph input of the same
        size (at both traced sizes), or None."""
        for x, name in self.inputs:
            for axis in sorted(self.dynamic.of(x)):
                if self.dynamic.same_in_both(x, axis, value, i):
                    key = (name, axis)
                    if key not in self._gathered:
                        self._gathered[key] = self.op("Gather", [self.op("Shape", [name]), self.ints([axis])])
                    return self._gathered[key]
        return None

    def unique(self, base):
        name, k = base, 1
        while name in self._taken:
            name, k = f"{base}_{k}", k + 1
        self._taken.add(name)
        return name

    def const(self, array, base="const"):
        """An initializer holding ``array``; returns its name."""
        name = self.unique(base)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def scalar(self, value, dtype):
        return self.const(np.asarray(value, dtype=dtype.np))

    def ints(self, values):
        return self.const(np.asarray(values, dtype=np.int64))

    def op(self, op_type, inputs, outputs=1, **attrs):
        """Append one ONNX node; returns its output name (or list of names when ``outputs`` > 1)."""
        names = [self.unique(f"{op_type.lower()}") for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), names, name=self.unique(f"n_{op_type}"),
                                                     doc_string=self.location or "", **attrs))
        return names[0] if outputs == 1 else names

    def cast(self, name, source, target):
        """``name`` (of framework dtype ``source``) as ``target``."""
        if source is target:
            return name
        return self.op("Cast", [name], to=_onnx_type(self.onnx, target))


def _onnx_type(onnx, dtype):
    if dtype.name == "bfloat16":
        raise NotImplementedError(f"{_WHO}: bfloat16 tensors are not supported (convert the model with .float())")
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype.np))


def _shape_with_names(shape, names):
    return [names.get(i, d) for i, d in enumerate(shape)]


def _build(onnx, inference, opset, input_names, output_names, export_params, keep_initializers_as_inputs,
           dynamic=None):
    graph = inference.graph
    b = _Builder(onnx, opset)
    if dynamic is not None:
        b.dynamic = dynamic.dims
    input_names = list(input_names or [])
    output_names = list(output_names or [])
    if len(input_names) > len(inference.args):
        raise ValueError(f"{_WHO}: {len(input_names)} input_names given but the model takes {len(inference.args)} "
                         "tensor inputs")
    if len(output_names) > len(inference.outputs):
        raise ValueError(f"{_WHO}: {len(output_names)} output_names given but the model returns "
                         f"{len(inference.outputs)} tensors")
    from .jit.export_graph import state_name
    used = {v for node in graph.nodes for v in node.inputs} | set(inference.outputs)
    graph_inputs = []
    for k, value in enumerate(inference.args):
        name = input_names[k] if k < len(input_names) else f"input_{k}"
        b.names[value] = name
        b._taken.add(name)
        b.inputs.append((value, name))
        shape = value.shape if dynamic is None else _shape_with_names(value.shape, dynamic.input_dims[k])
        graph_inputs.append(onnx.helper.make_tensor_value_info(name, _onnx_type(onnx, value.dtype), shape))
    for value in inference.state:
        if value not in used:
            continue
        name = b.unique(state_name(value))
        b.names[value] = name
        if export_params:
            b.initializers.append(onnx.numpy_helper.from_array(np.asarray(inference.arrays[value]), name))
        if keep_initializers_as_inputs or not export_params:
            graph_inputs.append(onnx.helper.make_tensor_value_info(name, _onnx_type(onnx, value.dtype), value.shape))
    for value, array in graph.constants.items():
        if value in used:
            _onnx_type(onnx, value.dtype)
            b.names[value] = b.const(array, f"const_{value.id}")
    users = graph.users()
    for node in graph.nodes:
        lower = _LOWER.get(node.op)
        if lower is None:
            raise NotImplementedError(f"{_WHO}: op '{node.op}' (at {node.location}) has no ONNX mapping; supported "
                                      f"ops: {', '.join(sorted(_LOWER))}")
        b.location = node.location
        ins = [b.names[v] for v in node.inputs]
        outs = lower(b, node, ins)
        outs = outs if isinstance(outs, list) else [outs]
        for value, name in zip(node.outputs, outs):
            if name is None and (value in users or value in inference.outputs):
                raise NotImplementedError(f"{_WHO}: output {value.index} of op '{node.op}' (at {node.location}) "
                                          "is used but has no ONNX equivalent")
            b.names[value] = name
    graph_outputs = []
    for k, value in enumerate(inference.outputs):
        name = output_names[k] if k < len(output_names) else f"output_{k}"
        b.location = None
        b.nodes.append(onnx.helper.make_node("Identity", [b.names[value]], [name], name=b.unique(f"n_out_{k}")))
        shape = value.shape if dynamic is None else _shape_with_names(value.shape, dynamic.output_dims[k])
        graph_outputs.append(onnx.helper.make_tensor_value_info(name, _onnx_type(onnx, value.dtype), shape))
    body = onnx.helper.make_graph(b.nodes, graph.name, graph_inputs, graph_outputs, b.initializers)
    proto = onnx.helper.make_model(body, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="framework")
    proto.ir_version = min(proto.ir_version, 10)  # readable by onnxruntime releases older than the onnx package
    return proto


# ----- one lowering per op ----------------------------------------------------------------------------------
def _no_attrs(node):
    if node.attrs:
        raise NotImplementedError(f"{_WHO}: op '{node.op}' (at {node.location}) with attributes {node.attrs} has no "
                                  "ONNX mapping")


def _to_out(b, node, ins):
    """Inputs cast to the output dtype (PyTorch's promotion already decided it)."""
    out = node.outputs[0].dtype
    return [b.cast(name, v.dtype, out) for name, v in zip(ins, node.inputs)]


def _elementwise(op_type):
    def lower(b, node, ins):
        _no_attrs(node)
        return b.op(op_type, _to_out(b, node, ins))
    return lower


def _compare(op_type, negate=False):
    def lower(b, node, ins):
        _no_attrs(node)
        a, c = node.inputs
        common = a.dtype if a.dtype is c.dtype else _promote(a.dtype, c.dtype)
        out = b.op(op_type, [b.cast(ins[0], a.dtype, common), b.cast(ins[1], c.dtype, common)])
        return b.op("Not", [out]) if negate else out
    return lower


def _promote(a, c):
    from . import _dtype
    return _dtype.from_numpy(np.result_type(a.np, c.np))


def _const_like(b, node, value):
    return b.scalar(value, node.outputs[0].dtype)


def _rsqrt(b, node, ins):
    return b.op("Reciprocal", [b.op("Sqrt", _to_out(b, node, ins))])


def _square(b, node, ins):
    x, = _to_out(b, node, ins)
    return b.op("Mul", [x, x])


def _silu(b, node, ins):
    x, = _to_out(b, node, ins)
    return b.op("Mul", [x, b.op("Sigmoid", [x])])


def _log1p(b, node, ins):
    x, = _to_out(b, node, ins)
    return b.op("Log", [b.op("Add", [x, _const_like(b, node, 1)])])


def _expm1(b, node, ins):
    x, = _to_out(b, node, ins)
    return b.op("Sub", [b.op("Exp", [x]), _const_like(b, node, 1)])


def _gelu(b, node, ins):
    x, = _to_out(b, node, ins)
    c = lambda v: _const_like(b, node, v)  # noqa: E731
    if node.attrs["approximate"] == "tanh":
        cube = b.op("Mul", [b.op("Mul", [x, x]), x])
        inner = b.op("Mul", [b.op("Add", [x, b.op("Mul", [cube, c(0.044715)])]), c(np.sqrt(2 / np.pi))])
        return b.op("Mul", [b.op("Mul", [x, c(0.5)]), b.op("Add", [b.op("Tanh", [inner]), c(1)])])
    erf = b.op("Erf", [b.op("Mul", [x, c(np.sqrt(0.5))])])
    return b.op("Mul", [b.op("Mul", [x, c(0.5)]), b.op("Add", [erf, c(1)])])


def _leaky_relu(b, node, ins):
    return b.op("LeakyRelu", ins, alpha=float(node.attrs["slope"]))


def _hardtanh(b, node, ins):
    return b.op("Clip", [ins[0], _const_like(b, node, node.attrs["lo"]), _const_like(b, node, node.attrs["hi"])])


def _clamp(b, node, ins):
    lo, hi = node.attrs["lo"], node.attrs["hi"]
    x, = _to_out(b, node, ins)
    return b.op("Clip", [x, "" if lo is None else _const_like(b, node, lo), "" if hi is None else
                         _const_like(b, node, hi)])


def _elu(b, node, ins):
    x, = ins
    c = lambda v: _const_like(b, node, v)  # noqa: E731
    a = node.attrs
    neg = b.op("Mul", [b.op("Sub", [b.op("Exp", [b.op("Mul", [b.op("Min", [x, c(0)]), c(a["input_scale"])])]),
                                    c(1)]), c(a["alpha"])])
    chosen = b.op("Where", [b.op("Greater", [x, c(0)]), x, neg])
    return b.op("Mul", [chosen, c(a["scale"])])


def _softplus(b, node, ins):
    x, = ins
    c = lambda v: _const_like(b, node, v)  # noqa: E731
    bx = b.op("Mul", [x, c(node.attrs["beta"])])
    soft = b.op("Div", [b.op("Softplus", [bx]), c(node.attrs["beta"])])
    return b.op("Where", [b.op("Greater", [bx, c(node.attrs["threshold"])]), x, soft])


def _hardsigmoid(b, node, ins):
    return b.op("HardSigmoid", ins, alpha=1 / 6, beta=0.5)


def _hardswish(b, node, ins):
    if b.opset >= 14:
        return b.op("HardSwish", ins)
    return b.op("Mul", [ins[0], b.op("HardSigmoid", ins, alpha=1 / 6, beta=0.5)])


def _mish(b, node, ins):
    return b.op("Mul", [ins[0], b.op("Tanh", [b.op("Softplus", ins)])])


def _logsigmoid(b, node, ins):
    return b.op("Neg", [b.op("Softplus", [b.op("Neg", ins)])])


def _threshold(b, node, ins):
    x, = ins
    cond = b.op("Greater", [x, _const_like(b, node, node.attrs["threshold"])])
    return b.op("Where", [cond, x, _const_like(b, node, node.attrs["value"])])


def _where(b, node, ins):
    _no_attrs(node)
    cond = b.cast(ins[0], node.inputs[0].dtype, _bool())
    out = node.outputs[0].dtype
    return b.op("Where", [cond, b.cast(ins[1], node.inputs[1].dtype, out), b.cast(ins[2], node.inputs[2].dtype, out)])


def _bool():
    from . import _dtype
    return _dtype.bool


def _softmax(op_type):
    def lower(b, node, ins):
        return b.op(op_type, _to_out(b, node, ins), axis=int(node.attrs["dim"]))
    return lower


def _linear(b, node, ins):
    x, w = _to_out(b, node, ins)
    if len(node.inputs[0].shape) == 2:
        return b.op("Gemm", [x, w], transB=1)
    return b.op("MatMul", [x, b.op("Transpose", [w], perm=[1, 0])])


def _matmul(b, node, ins):
    _no_attrs(node)
    return b.op("MatMul", _to_out(b, node, ins))


def _addmatmul(b, node, ins):
    bias, x, y = _to_out(b, node, ins)
    beta, alpha = node.attrs["beta"], node.attrs["alpha"]
    out = b.op("MatMul", [x, y])
    if alpha != 1:
        out = b.op("Mul", [out, _const_like(b, node, alpha)])
    if beta == 0:
        return out
    if beta != 1:
        bias = b.op("Mul", [bias, _const_like(b, node, beta)])
    return b.op("Add", [out, bias])


def _pads(padding):
    return [int(lo) for lo, _ in padding] + [int(hi) for _, hi in padding]


def _conv(b, node, ins):
    a = node.attrs
    w = node.inputs[1]
    return b.op("Conv", ins, kernel_shape=list(w.shape[2:]), strides=list(a["stride"]), pads=_pads(a["padding"]),
                dilations=list(a["dilation"]), group=int(a["groups"]))


def _pool_out(size, kernel, stride, padding, dilation, ceil):
    span = size + padding[0] + padding[1] - dilation * (kernel - 1) - 1
    return (-(-span // stride) if ceil else span // stride) + 1


def _ceil_mode(node, dilation):
    a = node.attrs
    size = node.inputs[0].shape[2:]
    args = list(zip(size, a["kernel"], a["stride"], a["padding"], dilation))
    if all(_pool_out(*x, ceil=False) == o for x, o in zip(args, a["out"])):
        return 0
    if all(_pool_out(*x, ceil=True) == o for x, o in zip(args, a["out"])):
        return 1
    raise NotImplementedError(f"{_WHO}: pooling window geometry of op '{node.op}' (at {node.location}) has no ONNX "
                              "equivalent")


def _max_pool(b, node, ins):
    a = node.attrs
    ceil = _ceil_mode(node, a["dilation"])
    values = b.op("MaxPool", ins, kernel_shape=list(a["kernel"]), strides=list(a["stride"]), pads=_pads(a["padding"]),
                  dilations=list(a["dilation"]), ceil_mode=ceil)
    return [values, None]  # PyTorch's per-plane indices differ from ONNX's: exported only when unused


def _avg_pool(b, node, ins):
    a = node.attrs
    if a["divisor_override"] is not None:
        raise NotImplementedError(f"{_WHO}: avg_pool with divisor_override (at {node.location}) has no ONNX mapping")
    if _ceil_mode(node, (1,) * len(a["kernel"])):
        raise NotImplementedError(f"{_WHO}: avg_pool with ceil_mode=True (at {node.location}) is not exported: "
                                  "ONNX divides edge windows differently")
    return b.op("AveragePool", ins, kernel_shape=list(a["kernel"]), strides=list(a["stride"]),
                pads=_pads(a["padding"]), count_include_pad=int(bool(a["count_include_pad"])))


def _adaptive_max_pool(b, node, ins):
    size, out = node.inputs[0].shape[2:], node.attrs["out"]
    if any(s % o for s, o in zip(size, out)):
        raise NotImplementedError(f"{_WHO}: adaptive_max_pool from {list(size)} to {list(out)} (at {node.location}) "
                                  "has uneven windows and no ONNX mapping")
    kernel = [s // o for s, o in zip(size, out)]
    return [b.op("MaxPool", ins, kernel_shape=kernel, strides=kernel), None]


def _reduce_call(b, op_type, x, dims, keepdim):
    keep = int(bool(keepdim))
    if dims is None or (isinstance(dims, (tuple, list)) and len(dims) == 0):
        return b.op(op_type, [x], keepdims=keep)
    dims = [int(dims)] if isinstance(dims, int) else [int(d) for d in dims]
    if op_type == "ReduceSum" or b.opset >= 18:
        return b.op(op_type, [x, b.ints(dims)], keepdims=keep)
    return b.op(op_type, [x], axes=dims, keepdims=keep)


def _reduce(op_type):
    def lower(b, node, ins):
        x = b.cast(ins[0], node.inputs[0].dtype, node.outputs[0].dtype)
        return _reduce_call(b, op_type, x, node.attrs["dims"], node.attrs["keepdim"])
    return lower


def _all_any(op_type):
    # ONNX has no boolean reductions: min (all) or max (any) over the values as 0/1 integers
    def lower(b, node, ins):
        from . import _dtype
        x = b.cast(b.cast(ins[0], node.inputs[0].dtype, _dtype.bool), _dtype.bool, _dtype.int32)
        reduced = _reduce_call(b, op_type, x, node.attrs["dims"], node.attrs["keepdim"])
        return b.cast(reduced, _dtype.int32, _dtype.bool)
    return lower


def _reshape(b, node, ins):
    return b.op("Reshape", [ins[0], _target_shape(b, node.inputs[0], node.outputs[0], "reshape", node.location)])


def _expand(b, node, ins):
    return b.op("Expand", [ins[0], _target_shape(b, node.inputs[0], node.outputs[0], "expand", node.location)])


def _target_shape(b, x, out, kind, location):
    """The name of the int64 target shape ``out`` of a reshape or expand of ``x`` (None: not a graph value).

    Static dims are constants. With dynamic axes a dynamic dim is, in order of preference: kept from the input
    (Reshape's 0 for the same dim; Expand's 1 where the input's dim broadcasts), read at run time from a graph
    input with the same size (Shape + Gather), or, for one dim of a reshape, inferred (-1).
    """
    target = [int(d) for d in out.shape]
    free = sorted(b.dynamic.of(out)) if b.dynamic is not None else []
    if not free:
        return b.ints(target)
    runtime, inferred = {}, []
    known = x is not None and x in b.dynamic.second_shapes
    lead = len(out.shape) - len(x.shape) if known else 0
    for i in free:
        if kind == "reshape" and known and i < len(x.shape) and i in b.dynamic.of(x) and \
                b.dynamic.same_in_both(x, i, out, i):
            target[i] = 0
        elif kind == "expand" and known and i >= lead and i - lead in b.dynamic.of(x) and \
                b.dynamic.same_in_both(x, i - lead, out, i):
            target[i] = 1  # broadcasting keeps the input's (dynamic) size
        else:
            source = b.dim_source(out, i)
            if source is not None:
                runtime[i] = source
            elif kind == "reshape":
                inferred.append(i)
            else:
                raise NotImplementedError(f"{_WHO}: dynamic_axes: expand to {out.shape} (at {location}) makes "
                                          f"dim {i} follow the dynamic size, and no input has that size")
    if len(inferred) > 1:
        raise NotImplementedError(f"{_WHO}: dynamic_axes: reshape to {out.shape} (at {location}) has "
                                  f"{len(inferred)} dims that follow the dynamic size in new places")
    for i in inferred:
        target[i] = -1
    if not runtime:
        return b.ints(target)
    parts = [runtime[i] if i in runtime else b.ints([d]) for i, d in enumerate(target)]
    return b.op("Concat", parts, axis=0)


def _permute(b, node, ins):
    return b.op("Transpose", ins, perm=[int(d) for d in node.attrs["dims"]])


def _slice(b, node, ins):
    key = node.attrs["key"]
    shape = node.inputs[0].shape
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    starts, ends, axes, steps = [], [], [], []
    dim = 0
    for k in key:
        if k is Ellipsis:
            dim += len(shape) - consumed
        elif k is None:
            continue
        elif isinstance(k, slice):
            start, stop, step = k.indices(shape[dim])
            if (start, stop, step) != (0, shape[dim], 1):
                starts.append(start), ends.append(max(stop, start)), axes.append(dim), steps.append(step)
            dim += 1
        else:
            start = int(k) % shape[dim]
            starts.append(start), ends.append(start + 1), axes.append(dim), steps.append(1)
            dim += 1
    out = ins[0]
    if axes:
        out = b.op("Slice", [out, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
    if node.outputs[0].shape != _sliced_shape(shape, axes, starts, ends, steps) or not axes:
        out = b.op("Reshape", [out, _target_shape(b, None, node.outputs[0], "reshape", node.location)])
    return out


def _sliced_shape(shape, axes, starts, ends, steps):
    shape = list(shape)
    for axis, start, end, step in zip(axes, starts, ends, steps):
        shape[axis] = len(range(start, end, step))
    return tuple(shape)


def _index(b, node, ins):
    if "array_paths" in node.attrs:
        raise NotImplementedError(f"{_WHO}: indexing with an index tensor that is a graph value (at {node.location}) "
                                  "has no ONNX mapping; only constant index keys export")
    # the key is constant: gather the selected elements by their flat positions
    from kernels.cpu.indexing import flat_positions
    positions = flat_positions(node.inputs[0].shape, node.attrs["key"])
    flat = b.op("Reshape", [ins[0], b.ints([-1])])
    return b.op("Gather", [flat, b.const(positions.astype(np.int64), "positions")], axis=0)


def _index_take(b, node, ins):
    return b.op("Gather", ins, axis=int(node.attrs["dim"]))


def _embedding(b, node, ins):
    return b.op("Gather", ins, axis=0)


def _cat(b, node, ins):
    return b.op("Concat", _to_out(b, node, ins), axis=int(node.attrs["dim"]))


def _split(b, node, ins):
    a = node.attrs
    sizes = [int(s) for s in a["sizes"]]
    parts = b.op("Split", [ins[0], b.ints(sizes)], outputs=len(sizes), axis=int(a["dim"]))
    parts = parts if isinstance(parts, list) else [parts]
    if a["squeeze"]:
        parts = [b.op("Reshape", [p, _target_shape(b, None, v, "reshape", node.location)])
                 for p, v in zip(parts, node.outputs)]
    return parts


def _constant_pad(b, node, ins):
    pads = list(node.attrs["pads"]) + [(0, 0)] * (len(node.inputs[0].shape) - len(node.attrs["pads"]))
    return b.op("Pad", [ins[0], b.ints(_pads(pads)), _const_like(b, node, node.attrs["value"])], mode="constant")


def _cast(b, node, ins):
    return b.cast(ins[0], node.inputs[0].dtype, node.outputs[0].dtype)


def _identity(b, node, ins):
    return b.op("Identity", ins)


def _trilu(upper):
    def lower(b, node, ins):
        if b.opset < 14:
            raise NotImplementedError(f"{_WHO}: {node.op} (at {node.location}) needs opset_version >= 14")
        return b.op("Trilu", [ins[0], b.ints(int(node.attrs["diagonal"]))], upper=upper)
    return lower


_UNARY = {"neg": "Neg", "abs": "Abs", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "sin": "Sin", "cos": "Cos",
          "tan": "Tan", "asin": "Asin", "acos": "Acos", "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh",
          "asinh": "Asinh", "acosh": "Acosh", "atanh": "Atanh", "tanh": "Tanh", "sigmoid": "Sigmoid",
          "floor": "Floor", "ceil": "Ceil", "round": "Round", "reciprocal": "Reciprocal", "erf": "Erf",
          "sign": "Sign", "relu": "Relu", "logical_not": "Not", "isnan": "IsNaN"}
_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "maximum": "Max",
           "minimum": "Min", "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor"}
_COMPARE = {"eq": "Equal", "lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual"}

_LOWER = {
    **{op: _elementwise(t) for op, t in {**_UNARY, **_BINARY}.items()},
    **{op: _compare(t) for op, t in _COMPARE.items()},
    "ne": _compare("Equal", negate=True),
    "rsqrt": _rsqrt, "square": _square, "silu": _silu, "log1p": _log1p, "expm1": _expm1, "gelu": _gelu,
    "leaky_relu": _leaky_relu, "hardtanh": _hardtanh, "clamp": _clamp, "elu": _elu, "softplus": _softplus,
    "hardsigmoid": _hardsigmoid, "hardswish": _hardswish, "mish": _mish, "logsigmoid": _logsigmoid,
    "threshold": _threshold, "where": _where,
    "softmax": _softmax("Softmax"), "log_softmax": _softmax("LogSoftmax"),
    "linear": _linear, "matmul": _matmul, "addmatmul": _addmatmul, "conv": _conv,
    "max_pool": _max_pool, "avg_pool": _avg_pool, "adaptive_max_pool": _adaptive_max_pool,
    "sum": _reduce("ReduceSum"), "mean": _reduce("ReduceMean"), "amax": _reduce("ReduceMax"),
    "amin": _reduce("ReduceMin"), "prod": _reduce("ReduceProd"), "all": _all_any("ReduceMin"),
    "any": _all_any("ReduceMax"),
    "reshape": _reshape, "view": _reshape, "expand": _expand, "permute": _permute, "slice": _slice,
    "index": _index, "index_take": _index_take, "embedding": _embedding, "cat": _cat, "split_with_sizes": _split,
    "unbind": _split, "constant_pad": _constant_pad, "_to_copy": _cast, "clone": _identity,
    "tril": _trilu(0), "triu": _trilu(1),
}

SUPPORTED_OPS = frozenset(_LOWER)
