"""PyTorch-style tensor repr: ``tensor([1., 2.], requires_grad=True)``."""
import numpy as np

from . import _dtype

_DEFAULT_SUFFIX_FREE = ("int64", "bool")


class _Options:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


options = _Options()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Set how tensors print (``torch.set_printoptions``)."""
    if profile == "default":
        options.precision, options.threshold, options.edgeitems, options.linewidth = 4, 1000, 3, 80
    elif profile == "short":
        options.precision, options.threshold, options.edgeitems, options.linewidth = 2, 1000, 2, 80
    elif profile == "full":
        options.precision, options.threshold, options.edgeitems, options.linewidth = 4, float("inf"), 3, 80
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            setattr(options, name, value)
    options.sci_mode = sci_mode


def _float_formatter(values):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.{options.precision}f}"
    absval = np.abs(finite.astype(np.float64))
    if np.all(finite == np.round(finite)):
        sci = absval.max() > 1e8 if options.sci_mode is None else options.sci_mode
        if sci:
            return lambda v: _special(v) or f"{v:.{options.precision}e}"
        return lambda v: _special(v) or f"{v:.0f}."
    nonzero = absval[absval != 0]
    lo = nonzero.min() if nonzero.size else 0.0
    hi = absval.max()
    sci = (hi / lo > 1000.0 or hi > 1e8 or lo < 1e-4) if nonzero.size else False
    if options.sci_mode is not None:
        sci = options.sci_mode
    if sci:
        return lambda v: _special(v) or f"{v:.{options.precision}e}"
    return lambda v: _special(v) or f"{v:.{options.precision}f}"


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _formatter(values, dtype):
    if dtype is _dtype.bool:
        return lambda v: "True" if v else "False"
    if dtype.is_floating_point:
        return _float_formatter(values.ravel())
    return lambda v: str(int(v))


def _summarize(values, edge):
    """Indices kept when a large tensor is summarised (first and last ``edge`` along each dim)."""
    return values


def _format_array(values, fmt, indent, summarize):
    if values.ndim == 0:
        return fmt(values.item())
    width = max((len(fmt(v)) for v in values.ravel()), default=0)

    def rec(a, depth):
        if a.ndim == 1:
            n = a.shape[0]
            if summarize and n > 2 * options.edgeitems:
                items = [fmt(v).rjust(width) for v in a[:options.edgeitems]] + ["..."] + \
                    [fmt(v).rjust(width) for v in a[-options.edgeitems:]]
            else:
                items = [fmt(v).rjust(width) for v in a]
            per_line = max(1, (options.linewidth - indent - depth) // (width + 2))
            lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
            return "[" + (",\n" + " " * (indent + depth + 1)).join(lines) + "]"
        n = a.shape[0]
        if summarize and n > 2 * options.edgeitems:
            parts = [rec(a[i], depth + 1) for i in range(options.edgeitems)] + ["..."] + \
                [rec(a[i], depth + 1) for i in range(n - options.edgeitems, n)]
        else:
            parts = [rec(a[i], depth + 1) for i in range(n)]
        sep = "," + "\n" * (a.ndim - 1) + " " * (indent + depth + 1)
        return "[" + sep.join(parts) + "]"

    return rec(values, 0)


def tensor_repr(t, prefix="tensor("):
    """The string PyTorch prints for ``t``."""
    values = t.detach()._values() if t.device.type == "cpu" else t.detach().cpu()._values()
    summarize = values.size > options.threshold
    shown = values
    if summarize:
        shown = values
        for axis in range(values.ndim):
            if values.shape[axis] > 2 * options.edgeitems:
                idx = list(range(options.edgeitems)) + list(range(values.shape[axis] - options.edgeitems,
                                                                   values.shape[axis]))
                shown = np.take(shown, idx, axis=axis)
    fmt = _formatter(shown, t.dtype)
    indent = len(prefix)
    if values.size == 0 and values.ndim > 0:
        body = "[]"
    else:
        body = _format_array(values, fmt, indent, summarize) if not summarize else \
            _format_array_summarized(values, fmt, indent, shown)
    suffixes = []
    if values.size == 0 and values.shape != (0,):
        suffixes.append(f"size={tuple(values.shape)}")
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    default_float = _dtype.get_default_dtype()
    if not (t.dtype is default_float or t.dtype.name in _DEFAULT_SUFFIX_FREE) or \
            (values.size == 0 and t.dtype is not default_float and t.dtype.name != "int64"):
        suffixes.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return prefix + body + "".join(", " + s for s in suffixes) + ")"


def _format_array_summarized(values, fmt, indent, shown):
    width = max(len(fmt(v)) for v in shown.ravel())
    fmt_w = lambda v: fmt(v).rjust(width)  # noqa: E731
    edge = options.edgeitems

    def rec(a, depth):
        n = a.shape[0]
        idx = list(range(n)) if n <= 2 * edge else list(range(edge)) + [None] + list(range(n - edge, n))
        if a.ndim == 1:
            items = ["..." if i is None else fmt_w(a[i]) for i in idx]
            per_line = max(1, (options.linewidth - indent - depth) // (width + 2))
            lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
            return "[" + (",\n" + " " * (indent + depth + 1)).join(lines) + "]"
        parts = ["..." if i is None else rec(a[i], depth + 1) for i in idx]
        sep = "," + "\n" * (a.ndim - 1) + " " * (indent + depth + 1)
        return "[" + sep.join(parts) + "]"

    return rec(values, 0)
