"""Padding layers: constant/zero, reflection, replication, circular."""
from .. import functional as F
from .module import Module
from ._utils import _ntuple

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d"]


class _Pad(Module):
    """Pads the last ``_dims`` dims; ``padding`` is an int or (left, right, top, bottom, front, back)."""

    _dims = 0
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(2 * type(self)._dims)(padding)

    def forward(self, input):
        return F.pad(input, self.padding, type(self)._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPad(_Pad):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPad(_ConstantPad):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(_ZeroPad):
    """Pad the last 1 dim with zeros."""
    _dims = 1


class ZeroPad2d(_ZeroPad):
    """Pad the last 2 dims with zeros."""
    _dims = 2


class ZeroPad3d(_ZeroPad):
    """Pad the last 3 dims with zeros."""
    _dims = 3


class ConstantPad1d(_ConstantPad):
    """Pad the last 1 dim with a constant value."""
    _dims = 1


class ConstantPad2d(_ConstantPad):
    """Pad the last 2 dims with a constant value."""
    _dims = 2


class ConstantPad3d(_ConstantPad):
    """Pad the last 3 dims with a constant value."""
    _dims = 3


class ReflectionPad1d(_Pad):
    """Pad the last 1 dim by reflecting the input at its border."""
    _dims, _mode = 1, "reflect"


class ReflectionPad2d(_Pad):
    """Pad the last 2 dims by reflecting the input at its border."""
    _dims, _mode = 2, "reflect"


class ReflectionPad3d(_Pad):
    """Pad the last 3 dims by reflecting the input at its border."""
    _dims, _mode = 3, "reflect"


class ReplicationPad1d(_Pad):
    """Pad the last 1 dim by repeating the border value."""
    _dims, _mode = 1, "replicate"


class ReplicationPad2d(_Pad):
    """Pad the last 2 dims by repeating the border value."""
    _dims, _mode = 2, "replicate"


class ReplicationPad3d(_Pad):
    """Pad the last 3 dims by repeating the border value."""
    _dims, _mode = 3, "replicate"


class CircularPad1d(_Pad):
    """Pad the last 1 dim by wrapping around (periodic)."""
    _dims, _mode = 1, "circular"


class CircularPad2d(_Pad):
    """Pad the last 2 dims by wrapping around (periodic)."""
    _dims, _mode = 2, "circular"


class CircularPad3d(_Pad):
    """Pad the last 3 dims by wrapping around (periodic)."""
    _dims, _mode = 3, "circular"
