"""Factories on device "cuda" allocate in device memory through the backend's allocation kernels.

With the numpy stand-in, the table's ``alloc_*`` kernels return ``DeviceArray`` (the stand-in's GPU memory)
and the host-to-device copy is made to fail: a factory that built its array on the host and copied it
over would fail here. Values, dtypes and devices are checked against the same factory on CPU.
"""
import numpy as np
import pytest

import framework
import framework._devices as devices
from framework import _backends

FACTORIES = {
    "zeros": lambda **kw: framework.zeros(2, 3, **kw),
    "ones": lambda **kw: framework.ones(4, **kw),
    "empty": lambda **kw: framework.empty(2, 2, **kw),
    "full": lambda **kw: framework.full((3,), 7, **kw),
    "zeros_like": lambda **kw: framework.zeros_like(framework.ones(2, 2, **kw)),
    "ones_like": lambda **kw: framework.ones_like(framework.zeros(3, **kw)),
    "full_like": lambda **kw: framework.full_like(framework.zeros(3, **kw), 2),
    "empty_like": lambda **kw: framework.empty_like(framework.zeros(3, **kw)),
    "new_zeros": lambda **kw: framework.ones(2, **kw).new_zeros(3),
    "new_full": lambda **kw: framework.ones(2, **kw).new_full((2, 2), 5),
    "arange": lambda **kw: framework.arange(1, 11, 3, **kw),
    "range": lambda **kw: framework.range(0, 2, 0.5, **kw),
    "linspace": lambda **kw: framework.linspace(-1, 2, 7, **kw),
    "logspace": lambda **kw: framework.logspace(0, 2, 5, **kw),
    "eye": lambda **kw: framework.eye(3, 4, **kw),
    "scalar_tensor": lambda **kw: framework.scalar_tensor(2.5, **kw),
}


@pytest.fixture
def device_allocation(numpy_cuda, monkeypatch):
    """The stand-in with device-typed allocation kernels; copies to the device fail. Returns the kernels called."""
    from standin import DeviceArray
    called = []

    def on_device(name, kernel):
        def run(*args):
            called.append(name)
            return kernel(*args).view(DeviceArray)
        return run

    for name in ("alloc_full", "alloc_arange", "alloc_eye"):
        numpy_cuda[name] = on_device(name, numpy_cuda[name])

    def no_copy(array, device):
        raise AssertionError(f"a host array was copied to {device}")
    monkeypatch.setattr(devices, "copy_array", no_copy)
    monkeypatch.setattr(_backends, "copy_array", no_copy)
    return called


@pytest.mark.parametrize("dtype", [framework.float32, framework.int64, framework.bool])
@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factory_allocates_on_device(device_allocation, name, dtype):
    if dtype is framework.bool and name in ("range", "logspace"):
        pytest.skip("not a bool factory")
    made = FACTORIES[name](device="cuda", dtype=dtype)
    assert device_allocation, "no allocation kernel ran"
    assert made.device == framework.device("cuda", 0) and made.dtype is dtype
    assert isinstance(made._data, np.ndarray) and type(made._data).__name__ == "DeviceArray"
    want = FACTORIES[name](dtype=dtype)
    np.testing.assert_array_equal(np.asarray(made._data), want.numpy())


def test_factory_requires_grad_leaf_on_device(device_allocation):
    w = framework.zeros(3, device="cuda", requires_grad=True)
    assert w.is_leaf and w.requires_grad and w.device.type == "cuda"


def test_cpu_factories_still_build_on_the_host():
    assert framework.zeros(2, device="cpu:0").device == framework.device("cpu")
    np.testing.assert_array_equal(framework.arange(5, dtype=framework.bfloat16).float().numpy(), np.arange(5.0))
