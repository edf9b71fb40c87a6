"""Tensor attributes and conversions: item, tolist, numpy memory sharing, strides, contiguity."""
import numpy as np
import pytest

import framework

torch = pytest.importorskip("torch")


def test_item_and_tolist_give_python_scalars():
    assert framework.tensor(2.5).item() == 2.5 and type(framework.tensor(2.5).item()) is float
    assert type(framework.tensor(3).item()) is int
    assert type(framework.tensor(True).item()) is bool
    assert framework.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert framework.tensor([1.5], dtype=framework.bfloat16).tolist() == [1.5]
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"):
        framework.tensor([1.0, 2.0]).item()


def test_python_number_protocols():
    assert float(framework.tensor([2.0])) == 2.0
    assert int(framework.tensor(7)) == 7
    assert [10, 20, 30][framework.tensor(1)] == 20
    with pytest.raises(TypeError):
        [1, 2][framework.tensor(1.0)]
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(framework.tensor([1, 2]))
    assert len(framework.zeros(4, 2)) == 4
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(framework.tensor(1.0))
    assert [r.tolist() for r in framework.tensor([[1, 2], [3, 4]])] == [[1, 2], [3, 4]]


def test_numpy_shares_memory_both_ways():
    t = framework.zeros(3)
    a = t.numpy()
    a[0] = 5
    assert t[0].item() == 5
    src = np.arange(4.0)
    u = framework.from_numpy(src)
    u.add_(1)
    assert src.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert u.dtype is framework.float64
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        framework.ones(2, requires_grad=True).numpy()
    with pytest.raises(TypeError, match="BFloat16"):
        framework.ones(2, dtype=framework.bfloat16).numpy()


def test_array_protocol_and_as_tensor():
    t = framework.tensor([1.0, 2.0], requires_grad=True)
    assert np.asarray(t).tolist() == [1.0, 2.0]
    assert np.asarray(framework.ones(2, dtype=framework.bfloat16)).dtype == np.float32
    arr = np.ones(3, dtype=np.int32)
    shared = framework.as_tensor(arr)
    arr[1] = 9
    assert shared.tolist() == [1, 9, 1] and shared.dtype is framework.int32
    copied = framework.tensor(arr)
    arr[2] = 7
    assert copied.tolist() == [1, 9, 1]


@pytest.mark.parametrize("make", [
    lambda m: m.zeros(3, 4),
    lambda m: m.zeros(3, 4).t(),
    lambda m: m.zeros(2, 3, 4).permute(2, 0, 1),
    lambda m: m.zeros(6, 5)[1:, ::2],
    lambda m: m.zeros(4, 1).expand(4, 3),
    lambda m: m.zeros(5, 6).narrow(1, 2, 3),
    lambda m: m.zeros(5, 6).diagonal(),
    lambda m: m.zeros(5, 6).select(1, 2),
    lambda m: m.zeros(10).unfold(0, 3, 2),
    lambda m: m.zeros(2, 0, 3),
    lambda m: m.tensor(1.0),
])
def test_stride_contiguity_and_offset_match_torch(make):
    ours, ref = make(framework), make(torch)
    assert ours.shape == tuple(ref.shape)
    assert ours.stride() == ref.stride()
    assert ours.is_contiguous() == ref.is_contiguous()
    assert ours.storage_offset() == ref.storage_offset()


def test_size_dim_numel_and_element_size():
    t = framework.zeros(2, 3, dtype=framework.float16)
    assert t.size() == (2, 3) and t.size(-1) == 3 and t.dim() == 2 and t.numel() == 6
    assert t.element_size() == 2 and t.nbytes == 12
    assert repr(t.shape) == "torch.Size([2, 3])"
    assert isinstance(t.shape[1:], framework.Size)
    with pytest.raises(IndexError, match="Dimension out of range"):
        t.size(2)


def test_contiguous_and_clone():
    t = framework.arange(6.0).reshape(2, 3).t()
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.tolist() == t.tolist()
    base = framework.ones(3)
    assert base.contiguous() is base
    copy = base.clone()
    copy.add_(1)
    assert base.tolist() == [1.0, 1.0, 1.0]


def test_new_tensor_methods_follow_self():
    x = framework.zeros(2, dtype=framework.int32)
    assert x.new_zeros(2, 3).dtype is framework.int32 and x.new_zeros((2, 3)).shape == (2, 3)
    assert x.new_ones(2).tolist() == [1, 1]
    assert x.new_full((2,), 3.7).tolist() == [3, 3]
    assert x.new_empty(4).shape == (4,)
    assert x.new_tensor([1.5]).dtype is framework.int32
    assert x.new_zeros(2, dtype=framework.float64).dtype is framework.float64
    assert framework.zeros(1).new_ones(2, requires_grad=True).requires_grad


@pytest.mark.parametrize("name,dtype", [("float", "float32"), ("double", "float64"), ("half", "float16"),
                                        ("long", "int64"), ("int", "int32"), ("bool", "bool"),
                                        ("bfloat16", "bfloat16"), ("byte", "uint8")])
def test_conversion_methods(name, dtype):
    values = [-1.7, 0.0, 2.5]
    ours = getattr(framework.tensor(values), name)()
    ref = getattr(torch.tensor(values), name)()
    assert ours.dtype.name == dtype and str(ref.dtype) == "torch." + dtype
    if dtype != "uint8":  # negative floats to uint8 are undefined behaviour
        assert ours.tolist() == ref.tolist()


def test_to_variants():
    t = framework.tensor([1, 2])
    assert t.to(framework.float64).dtype is framework.float64
    assert t.to("cpu") is t
    assert t.to(framework.zeros(1, dtype=framework.float16)).dtype is framework.float16
    assert t.to(dtype=framework.int64, copy=True) is not t
    assert t.type() == "torch.LongTensor" and t.type(framework.float32).dtype is framework.float32
