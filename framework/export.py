"""Export a model as one readable Python file that needs only numpy (for edge boxes and for teaching).

``to_numpy_source(model, example_args, path)`` traces ``model`` once in eval mode under no_grad, optimises the
graph without fusion (every line stays one primitive op), and writes a file holding the weights (base64 of
``np.save`` bytes, in the same file), small numpy helpers for the ops that need more than one line (convolution,
pooling, softmax, gelu, ...), a ``forward(*inputs)`` with one numpy line per graph node commented with the
user's source line, and an ``if __name__ == "__main__"`` demo. The file imports nothing of ours.

>>> framework.export.to_numpy_source(model, (x,), "model_numpy.py")       # doctest: +SKIP
>>> # python model_numpy.py    or    from model_numpy import forward
"""
import base64
import io
import keyword
import os

import numpy as np

__all__ = ["to_numpy_source", "SUPPORTED_OPS"]

_WHO = "framework.export.to_numpy_source"
_INLINE_LIMIT = 16  # arrays with at most this many elements are written as literals


def to_numpy_source(model, example_args, path, *, kwargs=None, optimize=True):
    """Write ``model`` traced on ``example_args`` as a numpy-only Python file at ``path``; returns the path.

    ``optimize=False`` keeps the graph as captured (no constant folding, CSE or DCE). Shapes are the traced ones.
    Ops without a numpy translation raise NotImplementedError naming the op and the user's line.
    """
    from .jit.export_graph import check_destination, inference_graph
    check_destination(_WHO, path)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{_WHO}: path must be a str or os.PathLike, got {type(path).__name__}")
    inference = inference_graph(_WHO, model, example_args, kwargs, optimize=optimize)
    source = _Writer(inference, type(model).__name__).source()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(source)
    return path


def _encode(array):
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class _Writer:
    """Turns an inference graph into the text of the numpy module."""

    def __init__(self, inference, title):
        self.inference, self.title = inference, title
        self.names, self.helpers, self.constants = {}, set(), []  # constants: (name, array)

    def literal(self, array, hint):
        """Source text for a constant array: a literal when small, else a name in the ``C`` table."""
        array = np.asarray(array)
        if array.dtype.kind not in "biuf":
            raise NotImplementedError(f"{_WHO}: constants of dtype {array.dtype} cannot be written")
        dtype = _np_name(array.dtype)
        finite = array.dtype.kind != "f" or bool(np.isfinite(array).all())
        if array.ndim == 0:
            # numpy prints the shortest text that reads back the same value; 'inf' and 'nan' parse as strings
            return f"{dtype}({str(array[()]) if finite else repr(str(array[()]))})"
        if array.size <= _INLINE_LIMIT and finite:
            return f"np.array({array.tolist()!r}, dtype={dtype})"
        name = f"{hint}_{len(self.constants)}"
        self.constants.append((name, array))
        return f"C[{name!r}]"

    def source(self):
        inference, graph = self.inference, self.inference.graph
        from .jit.export_graph import state_name
        used = self.used = {v for node in graph.nodes for v in node.inputs} | set(inference.outputs)
        args = []
        for k, value in enumerate(inference.args):
            name = _identifier(value.name, f"input_{k}", taken=set(args))
            self.names[value] = name
            args.append(name)
        params = []
        for value in inference.state:
            if value in used:
                _check_dtype(value)
                self.names[value] = f"P[{state_name(value)!r}]"
                params.append((state_name(value), inference.arrays[value]))
        for value, array in graph.constants.items():
            if value in used:
                _check_dtype(value)
                self.names[value] = self.literal(array, "const")
        body = []
        for node in graph.nodes:
            emit = _EMIT.get(node.op)
            if emit is None:
                raise NotImplementedError(f"{_WHO}: op '{node.op}' (at {node.location}) has no numpy translation; "
                                          f"supported ops: {', '.join(sorted(_EMIT))}")
            for value in node.outputs:
                _check_dtype(value)
            ins = [self.names[v] for v in node.inputs]
            expr = emit(self, node, ins)
            outs = [f"v{v.id}" for v in node.outputs]
            for value, name in zip(node.outputs, outs):
                self.names[value] = name
            if len(node.outputs) == 1:
                expr = _settle_dtype(node, expr)
            where = f"  # {node.op} @ {node.location}" if node.location else f"  # {node.op}"
            body.append(f"    {', '.join(outs)} = {expr}{where}")
        results = [f"np.asarray({self.names[v]})" for v in inference.outputs]
        body.append(f"    return {results[0] if len(results) == 1 else '(' + ', '.join(results) + ')'}")
        return self._module(args, params, body)

    def _module(self, args, params, body):
        inference = self.inference
        signature = ", ".join(f"{n} {v.type_str}" for n, v in zip(args, inference.args))
        returns = ", ".join(v.type_str for v in inference.outputs)
        lines = [f'"""{self.title}, exported by framework.export.to_numpy_source: needs only numpy.',
                 "",
                 f"forward({', '.join(args)}) takes {signature or 'nothing'} and returns {returns}.",
                 "Run this file for a demo on random inputs, or import it and call forward().",
                 '"""',
                 "import base64", "import io", "import math", "", "import numpy as np", "", "",
                 "def _array(text):",
                 '    """An array from base64 text of np.save bytes."""',
                 "    return np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)",
                 "", "",
                 "# parameters and buffers, by their state_dict names",
                 "P = {"]
        lines += [f"    {name!r}: _array({_encode(array)!r})," for name, array in params]
        lines.append("}")
        lines.append("# constant arrays the trace froze")
        lines.append("C = {")
        lines += [f"    {name!r}: _array({_encode(array)!r})," for name, array in self.constants]
        lines.append("}")
        for helper in sorted(_with_dependencies(self.helpers)):
            lines += ["", "", _HELPERS[helper][1].strip("\n")]
        lines += ["", "", f"def forward({', '.join(args)}):",
                  f'    """{self.title} forward pass on numpy arrays."""']
        lines += body
        demo = ", ".join(_demo_input(v) for v in inference.args)
        lines += ["", "", 'if __name__ == "__main__":',
                  "    rng = np.random.default_rng(0)",
                  f"    outputs = forward({demo})",
                  "    for k, out in enumerate(outputs if isinstance(outputs, tuple) else (outputs,)):",
                  '        print(f"output {k}: shape {out.shape}, dtype {out.dtype}, sum {out.sum():.6g}")', ""]
        return "\n".join(lines)


def _check_dtype(value):
    if value.dtype.name == "bfloat16":
        raise NotImplementedError(f"{_WHO}: bfloat16 tensors are not supported (numpy has no bfloat16; convert the "
                                  "model with .float())")


def _identifier(name, default, taken):
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in (name or ""))
    if not name or name[0].isdigit() or keyword.iskeyword(name) or name in taken or name in ("P", "C", "np"):
        return default
    return name


def _demo_input(value):
    shape = tuple(value.shape)
    if value.dtype.is_floating_point:
        return f"rng.standard_normal({shape!r}).astype({_np_name(value.dtype.np)})"
    return f"np.zeros({shape!r}, dtype={_np_name(value.dtype.np)})"


def _np_name(dtype):
    """``np.float32``; ``np.bool_`` for booleans (``np.bool`` needs numpy 2)."""
    name = np.dtype(dtype).name
    return "np.bool_" if name == "bool" else f"np.{name}"


def _settle_dtype(node, expr):
    """numpy's promotion can differ from PyTorch's (ints with floats): pin the traced dtype where they may differ."""
    out = node.outputs[0].dtype
    if node.op in _DTYPE_EXACT or (out.name == "bool" and node.op in _BOOL_RESULT):
        return expr
    if np.result_type(*[v.dtype.np for v in node.inputs]) == np.dtype(out.np) if node.inputs else True:
        return expr
    return f"np.asarray({expr}, dtype={_np_name(out.np)})"


# ops whose numpy text already yields the traced dtype whatever the input dtypes
_DTYPE_EXACT = frozenset({"embedding", "index_take", "index", "slice", "_to_copy", "clone", "reshape", "view",
                          "expand", "permute"})
_BOOL_RESULT = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
                          "logical_not", "isnan", "all", "any"})


# ----- numpy text per op ---------------------------------------------------------------------------------
def _use(writer, helper, text):
    writer.helpers.add(helper)
    return text


def _fmt(value):
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and not np.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


def _key_text(writer, key, advanced):
    if len(key) > 1 and key[-1] is Ellipsis:
        key = key[:-1]  # capture appends it to keep 0-d results views; numpy reads the same elements without
    parts = []
    for k in key:
        if k is None:
            parts.append(":" if advanced else "None")
        elif k is Ellipsis:
            parts.append("...")
        elif isinstance(k, slice):
            text = ":".join("" if v is None else str(v) for v in (k.start, k.stop, k.step))
            parts.append(text[:-1] if text.endswith(":") and k.step is None else text)
        elif isinstance(k, np.ndarray):
            parts.append(writer.literal(k, "index"))
        else:
            parts.append(str(int(k)))
    return ", ".join(parts)


def _binary(symbol):
    return lambda w, n, a: f"{a[0]} {symbol} {a[1]}"


def _call(function):
    return lambda w, n, a: f"{function}({', '.join(a)})"


def _helper(name):
    def emit(w, n, a):
        attrs = "".join(f", {k}={_fmt(v)}" for k, v in n.attrs.items())
        return _use(w, name, f"{name}({', '.join(a)}{attrs})")
    return emit


def _reduce(function):
    def emit(w, n, a):
        dims = n.attrs["dims"]
        axis = "None" if dims is None or dims == () else repr(tuple(dims) if not isinstance(dims, int) else dims)
        extra = f", dtype=np.{np.dtype(n.outputs[0].dtype.np).name}" if n.attrs.get("dtype") is not None else ""
        return f"{function}({a[0]}, axis={axis}, keepdims={bool(n.attrs['keepdim'])}{extra})"
    return emit


def _linear(w, n, a):
    return f"{a[0]} @ {a[1]}.T"


def _addmatmul(w, n, a):
    beta, alpha = n.attrs["beta"], n.attrs["alpha"]
    product = f"({a[1]} @ {a[2]})" if alpha == 1 else f"{_fmt(alpha)} * ({a[1]} @ {a[2]})"
    if beta == 0:
        return product
    return f"{a[0]} + {product}" if beta == 1 else f"{_fmt(beta)} * {a[0]} + {product}"


def _pool_values(name):
    def emit(w, n, a):
        if n.outputs[1] in w.used:
            raise NotImplementedError(f"{_WHO}: the indices output of '{n.op}' (at {n.location}) is used; only the "
                                      "pooled values are exported")
        attrs = ", ".join(f"{k}={_fmt(v)}" for k, v in n.attrs.items())
        return _use(w, name, f"{name}({a[0]}, {attrs}), None")
    return emit


def _clip(w, n, a):
    return f"np.clip({a[0]}, {_fmt(n.attrs['lo'])}, {_fmt(n.attrs['hi'])})"


def _reshape(w, n, a):
    return f"{a[0]}.reshape({tuple(n.outputs[0].shape)!r})"


def _cast(w, n, a):
    dtype = np.dtype(n.outputs[0].dtype.np).name
    if dtype == "bool":
        return f"{a[0]} != 0"
    return f"{a[0]}.astype({_np_name(dtype)})"


_EMIT = {
    "add": _binary("+"), "sub": _binary("-"), "mul": _binary("*"), "div": _binary("/"),
    "pow": _call("np.power"), "maximum": _call("np.maximum"), "minimum": _call("np.minimum"),
    "eq": _binary("=="), "ne": _binary("!="), "lt": _binary("<"), "le": _binary("<="), "gt": _binary(">"),
    "ge": _binary(">="), "logical_and": _call("np.logical_and"), "logical_or": _call("np.logical_or"),
    "logical_xor": _call("np.logical_xor"), "logical_not": _call("np.logical_not"),
    "neg": lambda w, n, a: f"-{a[0]}", "abs": _call("np.abs"), "exp": _call("np.exp"), "log": _call("np.log"),
    "sqrt": _call("np.sqrt"), "rsqrt": lambda w, n, a: f"1 / np.sqrt({a[0]})", "square": lambda w, n, a:
    f"{a[0]} * {a[0]}", "sin": _call("np.sin"), "cos": _call("np.cos"), "tan": _call("np.tan"),
    "tanh": _call("np.tanh"), "floor": _call("np.floor"), "ceil": _call("np.ceil"), "round": _call("np.round"),
    "reciprocal": _call("np.reciprocal"), "sign": _call("np.sign"), "log1p": _call("np.log1p"),
    "expm1": _call("np.expm1"), "isnan": _call("np.isnan"),
    "relu": lambda w, n, a: f"np.maximum({a[0]}, 0)", "sigmoid": _helper("_sigmoid"), "silu": _helper("_silu"),
    "erf": _helper("_erf"), "gelu": _helper("_gelu"), "softmax": _helper("_softmax"),
    "log_softmax": _helper("_log_softmax"),
    "leaky_relu": lambda w, n, a: f"np.where({a[0]} > 0, {a[0]}, {a[0]} * {_fmt(n.attrs['slope'])})",
    "hardtanh": _clip, "clamp": _clip,
    "hardsigmoid": lambda w, n, a: f"np.clip({a[0]} + 3, 0, 6) / 6",
    "hardswish": lambda w, n, a: f"{a[0]} * (np.clip({a[0]} + 3, 0, 6) / 6)",
    "elu": _helper("_elu"), "softplus": _helper("_softplus"),
    "threshold": lambda w, n, a: f"np.where({a[0]} > {_fmt(n.attrs['threshold'])}, {a[0]}, "
                                 f"{_fmt(n.attrs['value'])})",
    "where": _call("np.where"),
    "linear": _linear, "matmul": _binary("@"), "addmatmul": _addmatmul, "conv": _helper("_conv"),
    "max_pool": _pool_values("_max_pool"), "avg_pool": _helper("_avg_pool"),
    "adaptive_max_pool": _pool_values("_adaptive_max_pool"),
    "sum": _reduce("np.sum"), "mean": _reduce("np.mean"), "amax": _reduce("np.amax"), "amin": _reduce("np.amin"),
    "prod": _reduce("np.prod"), "all": _reduce("np.all"), "any": _reduce("np.any"),
    "reshape": _reshape, "view": _reshape,
    "expand": lambda w, n, a: f"np.broadcast_to({a[0]}, {tuple(n.outputs[0].shape)!r})",
    "permute": lambda w, n, a: f"{a[0]}.transpose({tuple(n.attrs['dims'])!r})",
    "slice": lambda w, n, a: f"{a[0]}[{_key_text(w, n.attrs['key'], advanced=False)}]",
    "index": lambda w, n, a: f"{a[0]}[{_key_text(w, n.attrs['key'], advanced=True)}]",
    "index_take": lambda w, n, a: f"np.take({a[0]}, {a[1]}, axis={n.attrs['dim']})",
    "embedding": lambda w, n, a: f"np.take({a[0]}, {a[1]}, axis=0)",
    "cat": lambda w, n, a: f"np.concatenate([{', '.join(a)}], axis={n.attrs['dim']})",
    "split_with_sizes": _helper("_split"), "unbind": _helper("_split"),
    "constant_pad": _helper("_pad"), "_to_copy": _cast, "clone": lambda w, n, a: f"{a[0]}.copy()",
    "tril": lambda w, n, a: f"np.tril({a[0]}, {n.attrs['diagonal']})",
    "triu": lambda w, n, a: f"np.triu({a[0]}, {n.attrs['diagonal']})",
}

SUPPORTED_OPS = frozenset(_EMIT)


def _with_dependencies(names):
    found = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending.extend(_HELPERS[name][0])
    return found


# name -> (helpers it calls, source); written into the exported file only when used
_HELPERS = {
    "_sigmoid": ((), '''
def _sigmoid(x):
    """1 / (1 + exp(-x)), without overflow for large negative x."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
'''),
    "_silu": (("_sigmoid",), '''
def _silu(x):
    """x * sigmoid(x)."""
    return x * _sigmoid(x)
'''),
    "_erf": ((), '''
def _erf(x):
    """The error function, elementwise (math.erf in float64)."""
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)
'''),
    "_gelu": (("_erf", "_sigmoid"), '''
def _gelu(x, approximate="none"):
    """x * P(X <= x) for standard normal X; "tanh" uses the tanh approximation."""
    if approximate == "tanh":
        return x * _sigmoid(x.dtype.type(2 * math.sqrt(2 / math.pi)) * (x + x.dtype.type(0.044715) * x * x * x))
    return x.dtype.type(0.5) * x * (1 + _erf(x * x.dtype.type(math.sqrt(0.5))))
'''),
    "_softmax": ((), '''
def _softmax(x, dim):
    """exp(x) / sum(exp(x)) along dim (shifted by the max for stability)."""
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)
'''),
    "_log_softmax": ((), '''
def _log_softmax(x, dim):
    """x - log(sum(exp(x))) along dim."""
    shifted = x - np.max(x, axis=dim, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))
'''),
    "_elu": ((), '''
def _elu(x, alpha, scale, input_scale):
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1))."""
    negative = np.expm1(np.minimum(x, 0) * x.dtype.type(input_scale)) * x.dtype.type(alpha)
    return np.where(x > 0, x, negative) * x.dtype.type(scale)
'''),
    "_softplus": ((), '''
def _softplus(x, beta, threshold):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    bx = x * x.dtype.type(beta)
    soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / x.dtype.type(beta)
    return np.where(bx > threshold, x, soft)
'''),
    "_windows": ((), '''
def _windows(x, kernel, stride, dilation, out):
    """Sliding windows of padded x (N, C, *S): a view (N, C, *out, *kernel)."""
    nd = len(kernel)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    win = np.lib.stride_tricks.sliding_window_view(x, span, axis=tuple(range(2, 2 + nd)))
    win = win[(Ellipsis,) + tuple(slice(None, None, d) for d in dilation)]
    return win[(slice(None), slice(None)) + tuple(slice(0, o * s, s) for o, s in zip(out, stride))]
'''),
    "_conv": (("_windows",), '''
def _conv(x, w, stride, padding, dilation, groups):
    """Cross-correlation of x (N, C, *S) with w (O, C / groups, *kernel), padding (low, high) per dim."""
    nd = w.ndim - 2
    kernel = w.shape[2:]
    padded = np.pad(x, ((0, 0), (0, 0)) + tuple(padding))
    out = tuple((padded.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(nd))
    win = _windows(padded, kernel, stride, dilation, out)
    c, o = x.shape[1] // groups, w.shape[0] // groups
    axes = ([1] + list(range(2 + nd, 2 + 2 * nd)), [1] + list(range(2, 2 + nd)))
    parts = [np.tensordot(win[:, g * c:(g + 1) * c], w[g * o:(g + 1) * o], axes=axes) for g in range(groups)]
    return np.moveaxis(np.concatenate(parts, axis=-1), -1, 1).astype(x.dtype)
'''),
    "_pool_pad": ((), '''
def _pool_pad(x, kernel, stride, padding, dilation, out, value):
    """x padded by (low, high) per spatial dim, plus cells of value at the high end for ceil-mode windows."""
    extra = [max(0, (o - 1) * s + d * (k - 1) + 1 - (size + lo + hi))
             for o, s, d, k, size, (lo, hi) in zip(out, stride, dilation, kernel, x.shape[2:], padding)]
    pads = ((0, 0), (0, 0)) + tuple((lo, hi + e) for (lo, hi), e in zip(padding, extra))
    return np.pad(x, pads, constant_values=value)
'''),
    "_max_pool": (("_windows", "_pool_pad"), '''
def _max_pool(x, kernel, stride, padding, dilation, out):
    """Max over each window; padding never wins."""
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    padded = _pool_pad(x, kernel, stride, padding, dilation, out, lowest)
    win = _windows(padded, kernel, stride, dilation, out)
    return win.max(axis=tuple(range(-len(kernel), 0)))
'''),
    "_avg_pool": (("_windows", "_pool_pad"), '''
def _avg_pool(x, kernel, stride, padding, out, count_include_pad, divisor_override):
    """Mean over each window: divided by divisor_override, else by the cells inside the (padded) input."""
    ones = (1,) * len(kernel)
    axes = tuple(range(-len(kernel), 0))
    total = _windows(_pool_pad(x, kernel, stride, padding, ones, out, 0), kernel, stride, ones, out).sum(axis=axes)
    if divisor_override:
        return (total / divisor_override).astype(x.dtype)
    inside = np.ones((1, 1) + x.shape[2:], dtype=x.dtype)
    if count_include_pad:
        inside = np.pad(inside, ((0, 0), (0, 0)) + tuple(padding), constant_values=1)
        padding = tuple((0, 0) for _ in padding)
    count = _windows(_pool_pad(inside, kernel, stride, padding, ones, out, 0), kernel, stride, ones, out)
    return (total / count.sum(axis=axes)).astype(x.dtype)
'''),
    "_adaptive_max_pool": ((), '''
def _adaptive_max_pool(x, out):
    """Max over adaptive windows: cell i of a dim of size n covers [i * n // out, ceil((i + 1) * n / out))."""
    result = np.empty(x.shape[:2] + tuple(out), dtype=x.dtype)
    for cell in np.ndindex(*out):
        region = tuple(slice(i * n // o, -(-(i + 1) * n // o)) for i, n, o in zip(cell, x.shape[2:], out))
        result[(Ellipsis,) + cell] = x[(slice(None), slice(None)) + region].max(axis=tuple(range(2, x.ndim)))
    return result
'''),
    "_split": ((), '''
def _split(x, dim, sizes, squeeze):
    """Consecutive pieces of the given sizes along dim (size-1 pieces lose the dim when squeeze)."""
    pieces = np.split(x, np.cumsum(sizes)[:-1], axis=dim)
    return tuple(np.squeeze(p, axis=dim) if squeeze else p for p in pieces)
'''),
    "_pad": ((), '''
def _pad(x, pads, value):
    """x with (low, high) cells of value added per leading dim; negative amounts crop."""
    crop = tuple(slice(max(-lo, 0), x.shape[i] - max(-hi, 0)) for i, (lo, hi) in enumerate(pads))
    grow = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pads) + ((0, 0),) * (x.ndim - len(pads))
    return np.pad(x[crop], grow, constant_values=value)
'''),
}
