"""``framework.cuda``: the CUDA device API. The CuPy backend is optional; without it nothing is available."""

__all__ = ["is_available", "device_count", "synchronize", "manual_seed", "manual_seed_all", "current_device",
           "memory_allocated", "max_memory_allocated", "empty_cache"]


def is_available():
    """Whether a CUDA device can be used (False: the CuPy backend is not installed or no GPU is present)."""
    return False


def device_count():
    """Number of usable CUDA devices."""
    return 0


def _unavailable(name):
    raise AssertionError(f"Torch not compiled with CUDA enabled (framework.cuda.{name} needs the cuda backend)")


def current_device():
    _unavailable("current_device")


def synchronize(device=None):
    _unavailable("synchronize")


def manual_seed(seed):
    """Seed the CUDA generators: a no-op without CUDA, as in PyTorch."""


def manual_seed_all(seed):
    """Seed every CUDA generator: a no-op without CUDA, as in PyTorch."""


def memory_allocated(device=None):
    return 0


def max_memory_allocated(device=None):
    return 0


def empty_cache():
    """Release cached device memory: nothing to release without CUDA."""
