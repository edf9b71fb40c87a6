"""The dispatch path itself: kernel tables, device checks, view bookkeeping, tape recording."""
import numpy as np
import pytest

import framework
from framework._device import device
from framework._tensor import Tensor
from framework.ops.registry import REGISTRY, commit_inplace, dispatch, register_op


def test_every_registered_op_has_a_cpu_kernel():
    from kernels.cpu import KERNELS
    missing = sorted(op.name for op in REGISTRY.values() if op.kernel not in KERNELS and not op.name.startswith("_")
                     and op.name not in ("copy_slices",))
    assert missing == []


def test_missing_kernel_names_op_and_device():
    op = register_op("no_such_kernel_op")
    with pytest.raises(NotImplementedError, match="no_such_kernel_op.*cpu"):
        dispatch(op, (framework.ones(2),))
    del REGISTRY["no_such_kernel_op"]


def test_mixed_devices_raise_pytorch_error():
    a = framework.ones(2)
    b = Tensor._wrap(np.ones(2, dtype=np.float32), None, device("npu"))
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        framework.add(a, b)


def test_view_results_share_version_counter_and_memory():
    x = framework.zeros(2, 3)
    v = x.transpose(0, 1)
    assert v._base is x and v._vc is x._vc
    v.add_(1)
    assert x._version == 1 and float(x.sum()) == 6.0


def test_reshape_that_copies_is_not_a_view():
    x = framework.zeros(2, 3).transpose(0, 1)
    y = x.reshape(6)
    assert y._base is None and y._vc is not x._vc


def test_tape_records_only_when_needed():
    a = framework.ones(3, requires_grad=True)
    assert (a * 2).grad_fn is not None
    with framework.no_grad():
        assert (a * 2).grad_fn is None
    assert (framework.ones(3) * 2).grad_fn is None


def test_node_remembers_user_line():
    a = framework.ones(3, requires_grad=True)
    y = a.exp()  # the line recorded below
    filename, line = y.grad_fn.where
    assert filename == __file__
    with open(__file__) as f:
        assert "the line recorded below" in f.read().splitlines()[line - 1]


def test_inplace_cast_rule():
    x = framework.ones(3, dtype=framework.int64)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        commit_inplace(x, framework.ones(3) * 0.5)


def test_inplace_on_leaf_requiring_grad_raises():
    a = framework.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        a.add_(1)


def test_write_through_view_of_graph_tensor_gets_copy_slices_gradient():
    a = framework.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = framework.tensor([5.0, 6.0], requires_grad=True)
    h = a * 1
    h.narrow(0, 1, 2).copy_(b * 3)
    (h * framework.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert a.grad.tolist() == [1.0, 0.0, 0.0]
    assert b.grad.tolist() == [6.0, 9.0]


def test_bfloat16_computes_in_float32_and_rounds():
    x = framework.tensor([1.0, 3.0]).to(framework.bfloat16)
    y = x / 3
    assert y.dtype is framework.bfloat16 and y._data.dtype == np.uint16
    # 1/3 rounded to bfloat16 (8 significant bits) is 0.333984375
    assert y.tolist() == [0.333984375, 1.0]


def test_overwriting_a_graph_tensor_keeps_requires_grad_with_zero_gradient():
    torch = pytest.importorskip("torch")
    for make in (framework, torch):
        a = make.ones(2, requires_grad=True)
        x = a.clone()
        x.copy_(make.zeros(2))
        assert x.requires_grad
        x.sum().backward()
        assert a.grad.tolist() == [0.0, 0.0]
