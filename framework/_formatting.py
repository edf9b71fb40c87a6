"""PyTorch-style tensor repr: ``tensor([1., 2.], requires_grad=True)``.

One formatter per tensor decides, from the finite non-zero values shown, between integer style
(``3.``), fixed point and scientific notation, and the common width every element is padded to.
Large tensors are summarised to ``edgeitems`` rows/columns around ``...``.
"""
import math

import numpy as np

from . import _dtype


class _Options:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


options = _Options()

_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Set how tensors print (``torch.set_printoptions``)."""
    if profile is not None:
        options.precision, options.threshold, options.edgeitems, options.linewidth = _PROFILES[profile]
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            setattr(options, name, value)
    options.sci_mode = sci_mode


class _Formatter:
    """Formats single elements of one tensor, all padded to the same width."""

    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode, self.sci_mode, self.width = True, False, 1
        flat = values.reshape(-1)
        if not floating:
            self.width = max((len(str(v)) for v in flat.tolist()), default=1)
        else:
            shown = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
            if shown.size:
                magnitudes = np.abs(shown)
                lo, hi = magnitudes.min(), magnitudes.max()
                self.int_mode = bool(np.all(shown == np.ceil(shown)))
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or (not self.int_mode and lo < 1.0e-4)
                self.width = max(len(self._text(v)) + (self.int_mode and not self.sci_mode) for v in shown.tolist())
        if floating and options.sci_mode is not None:
            self.sci_mode = options.sci_mode

    def _text(self, value):
        if self.sci_mode:
            return f"{value:.{options.precision}e}"
        if self.int_mode:
            return f"{value:.0f}"
        return f"{value:.{options.precision}f}"

    def format(self, value):
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.width}.{options.precision}e}"
        else:
            text = self._text(value)
            if self.int_mode and math.isfinite(value):
                text += "."
        return text.rjust(self.width)


def _summarized(values, edge):
    """The elements kept when summarising: the first and last ``edge`` along every dim."""
    for axis in range(values.ndim):
        n = values.shape[axis]
        if n > 2 * edge:
            values = np.take(values, list(range(edge)) + list(range(n - edge, n)), axis=axis)
    return values


def _vector_str(values, indent, summarize, fmt):
    per_line = max(1, int((options.linewidth - indent) // (fmt.width + 2)))
    edge = options.edgeitems
    if summarize and values.shape[0] > 2 * edge:
        items = [fmt.format(v) for v in values[:edge].tolist()] + [" ..."] + \
            [fmt.format(v) for v in values[-edge:].tolist()]
    else:
        items = [fmt.format(v) for v in values.tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str(values, indent, summarize, fmt):
    if values.ndim == 0:
        return fmt.format(values.item())
    if values.ndim == 1:
        return _vector_str(values, indent, summarize, fmt)
    n, edge = values.shape[0], options.edgeitems
    if summarize and n > 2 * edge:
        rows = [_tensor_str(values[i], indent + 1, summarize, fmt) for i in range(edge)] + ["..."] + \
            [_tensor_str(values[i], indent + 1, summarize, fmt) for i in range(n - edge, n)]
    else:
        rows = [_tensor_str(values[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _add_suffixes(text, suffixes, indent):
    """Append ``, suffix`` items, wrapping to a new line when one would pass the line width."""
    parts = [text]
    line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line_len + len(suffix) + 2 > options.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            line_len += len(suffix) + 2
    return "".join(parts) + ")"


def tensor_repr(t, prefix="tensor("):
    """The string PyTorch prints for ``t``."""
    source = t.detach() if t.device.type == "cpu" else t.detach().cpu()
    values = source._values()
    if values.dtype == np.float16:
        values = values.astype(np.float32)
    indent = len(prefix)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    if values.size == 0:
        if values.ndim != 1:
            suffixes.append(f"size={tuple(values.shape)}")
        if t.dtype is not _dtype.get_default_dtype():
            suffixes.append(f"dtype={t.dtype!r}")
        body = "[]"
    else:
        if t.dtype not in (_dtype.get_default_dtype(), _dtype.int64, _dtype.bool):
            suffixes.append(f"dtype={t.dtype!r}")
        summarize = values.size > options.threshold
        fmt = _Formatter(_summarized(values, options.edgeitems) if summarize else values,
                         t.dtype.is_floating_point)
        body = _tensor_str(values, indent, summarize, fmt)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
