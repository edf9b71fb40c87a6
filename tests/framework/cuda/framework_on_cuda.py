"""Conformance candidate: ``framework`` with every tensor on device "cuda" (``run.py --module framework_on_cuda``).

The harness builds its inputs with ``tensor(...)``; here they are made on the GPU, so every op, method,
operator and backward pass it then calls runs on the cuda backend; outputs and gradients are read back with
``numpy(force=True)`` (a copy to the host, as in PyTorch). Without a GPU, device "cuda" is served by the
numpy stand-in (``standin.py``: the cuda kernel table built for numpy), so the same check runs anywhere.
"""
import framework

if not framework.cuda.is_available():
    import shutil
    import tempfile

    import pytest

    import standin
    # random ops draw with the Philox kernels' CUDA source, run on the host (needs g++)
    emulator = standin.Emulator(tempfile.mkdtemp(prefix="cuda_emulator")) if shutil.which("g++") else None
    standin.install(pytest.MonkeyPatch(), emulator)


def tensor(data, dtype=None, requires_grad=False):
    """``framework.tensor`` made on device "cuda"."""
    return framework.tensor(data, dtype=dtype, device="cuda", requires_grad=requires_grad)


def __getattr__(name):
    return getattr(framework, name)
