"""A PyTorch-compatible deep-learning framework on numpy and Numba: ``import framework as torch``."""
from . import _dtype
from ._dtype import *  # noqa: F401,F403
from ._device import device  # noqa: F401
from ._tensor import Size, Tensor  # noqa: F401
from .ops import *  # noqa: F401,F403  (before _creation: op modules import it, and it imports ops._checks)
from ._creation import *  # noqa: F401,F403
from .autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,  # noqa: F401
                                 no_grad, set_grad_enabled)
from . import autograd  # noqa: F401
from .random import *  # noqa: F401,F403
from . import random  # noqa: F401
from . import nn  # noqa: F401
from . import optim  # noqa: F401
from .nn.functional import activation as _activation

globals().update({_name: getattr(_activation, _name) for _name in _activation.TOP_LEVEL})  # torch.relu, ...
from . import linalg  # noqa: F401
from . import special  # noqa: F401
from . import masked  # noqa: F401
from . import signal  # noqa: F401
from . import cuda  # noqa: F401
from . import npu  # noqa: F401
from . import utils  # noqa: F401
from .serialization import load, save  # noqa: F401
from ._formatting import set_printoptions  # noqa: F401
from ._threads import get_num_interop_threads, get_num_threads, set_num_interop_threads, set_num_threads  # noqa: F401
from . import jit  # noqa: F401  (light: its submodules load on first use)


def compile(model=None, **kwargs):
    """Compile a function or module for graph mode (``torch.compile``): see ``framework.jit.compile``."""
    from .jit.compile import compile as _compile
    return _compile(model, **kwargs)


def set_context(mode="graph"):
    """Switch graph mode on ("graph") or off ("eager"): see ``framework.jit.set_context``."""
    from .jit.compile import set_context as _set_context
    _set_context(mode)


def __getattr__(name):
    # framework.onnx and framework.export load on first use: exporting is rare and must not slow imports
    if name in ("onnx", "export"):
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_context(key="mode"):
    """The graph-mode context value ``key``: see ``framework.jit.get_context``."""
    from .jit.compile import get_context as _get_context
    return _get_context(key)

__version__ = "0.1.0"


class _Layout:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


class memory_format(_Layout):
    """A memory layout tag (``torch.contiguous_format``, ``torch.channels_last``)."""


strided = _Layout("strided")
contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
preserve_format = memory_format("preserve_format")


def is_tensor(obj):
    """Whether ``obj`` is a Tensor."""
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def is_floating_point(input):
    return input.dtype.is_floating_point


def is_nonzero(input):
    if input.numel() != 1:
        raise RuntimeError(f"Boolean value of Tensor with {'no values' if input.numel() == 0 else 'more than one value'}"
                           " is ambiguous")
    return bool(input.item())
