"""Moving tensors between devices; each device type is served by a backend table in ``_backends``."""
from ._backends import TABLES


def move(tensor, device):
    """A copy of ``tensor`` on ``device`` (differentiable); a clear error if that backend is absent."""
    if device.type not in TABLES:
        if device.type == "cuda":
            raise AssertionError("Torch not compiled with CUDA enabled (framework: the cuda backend needs the "
                                 "optional 'cupy' package and a GPU)")
        raise RuntimeError(f"the {device.type} backend is not available in this build: cannot move a tensor to "
                           f"'{device}'")
    raise NotImplementedError(f"moving tensors from {tensor.device} to {device} is not implemented yet")
