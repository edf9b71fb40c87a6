"""Convolutions, linear and unfold/fold against PyTorch: values, float64 gradcheck (and double backward), errors."""
import numpy as np
import pytest

import framework
import framework.nn.functional as F
from framework.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(shape, seed, dtype=np.float32):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return framework.tensor(a), torch.tensor(a)


def _leaf(shape, seed):
    return framework.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


CONVS = [
    ("conv1d", (2, 4, 9), (6, 2, 3), dict(stride=2, padding=1, dilation=2, groups=2)),
    ("conv2d", (2, 3, 7, 6), (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 0))),
    ("conv2d", (3, 7, 6), (4, 3, 3, 3), dict(padding="same", dilation=2)),
    ("conv2d", (1, 4, 5, 5), (4, 1, 2, 2), dict(padding="same", groups=4)),
    ("conv3d", (1, 2, 4, 5, 4), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=1)),
    ("conv_transpose1d", (2, 4, 5), (4, 3, 3), dict(stride=3, padding=1, output_padding=2, groups=2)),
    ("conv_transpose2d", (2, 2, 4, 3), (2, 3, 3, 2), dict(stride=2, padding=(1, 0), output_padding=1, dilation=2)),
    ("conv_transpose3d", (1, 2, 3, 3, 2), (2, 2, 2, 2, 2), dict(stride=2)),
]


@pytest.mark.parametrize("name,xshape,wshape,kwargs", CONVS)
def test_conv_matches_torch(name, xshape, wshape, kwargs):
    x, tx = _pair(xshape, 0)
    w, tw = _pair(wshape, 1)
    channels = wshape[0] if "transpose" not in name else wshape[1] * kwargs.get("groups", 1)
    b, tb = _pair((channels,), 2)
    got = getattr(F, name)(x, w, b, **kwargs)
    want = getattr(TF, name)(tx, tw, tb, **kwargs)
    assert got.shape == tuple(want.shape) and got.dtype == framework.float32
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,xshape,wshape,kwargs", [
    ("conv1d", (1, 4, 6), (2, 2, 3), dict(stride=2, padding=1, dilation=2, groups=2)),
    ("conv3d", (1, 1, 3, 3, 2), (2, 1, 2, 2, 1), dict(stride=(1, 2, 1), padding=1)),
    ("conv_transpose2d", (1, 2, 2, 3), (2, 1, 2, 2), dict(stride=2, padding=(1, 0), output_padding=1, dilation=2)),
])
def test_conv_gradients_twice(name, xshape, wshape, kwargs):
    x, w = _leaf(xshape, 0), _leaf(wshape, 1)
    fn = getattr(F, name)
    assert gradcheck(lambda a, b: fn(a, b, **kwargs), (x, w))
    assert gradgradcheck(lambda a, b: fn(a, b, **kwargs), (x, w))


def test_conv_errors_as_torch():
    x, w = framework.zeros(1, 4, 5, 5), framework.zeros(8, 3, 3, 3)
    with pytest.raises(RuntimeError, match=r"Given groups=1, weight of size \[8, 3, 3, 3\], expected "
                                           r"input\[1, 4, 5, 5\] to have 3 channels, but got 4 channels instead"):
        F.conv2d(x, w)
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
        F.conv2d(x, framework.zeros(2, 4, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(framework.zeros(1, 4, 2, 2), framework.zeros(2, 4, 3, 3))
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Float"):
        F.conv2d(x, framework.zeros(2, 4, 3, 3, dtype=framework.float64))
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(x, framework.zeros(4, 2, 3, 3), stride=2, output_padding=2)


def test_linear_and_bilinear():
    x, tx = _pair((2, 3, 4), 0)
    w, tw = _pair((5, 4), 1)
    b, tb = _pair((5,), 2)
    np.testing.assert_allclose(F.linear(x, w, b).numpy(), TF.linear(tx, tw, tb).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(F.linear(x[0, 0], w).numpy(), TF.linear(tx[0, 0], tw).numpy(), rtol=1e-5, atol=1e-6)
    a, ta = _pair((6, 3, 4), 3)
    np.testing.assert_allclose(F.bilinear(x.reshape(6, 4)[:, :3], x.reshape(6, 4), a).numpy(),
                               TF.bilinear(tx.reshape(6, 4)[:, :3], tx.reshape(6, 4), ta).numpy(), rtol=1e-5,
                               atol=1e-5)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(6x4 and 3x5\)"):
        F.linear(x, framework.zeros(5, 3))
    assert gradgradcheck(lambda i, k, c: F.linear(i, k, c), (_leaf((3, 4), 0), _leaf((2, 4), 1), _leaf((2,), 2)))


def test_unfold_fold_roundtrip_and_gradients():
    x, tx = _pair((2, 3, 6, 5), 0)
    kw = dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    cols = F.unfold(x, **kw)
    np.testing.assert_allclose(cols.numpy(), TF.unfold(tx, **kw).numpy())
    np.testing.assert_allclose(F.fold(cols, (6, 5), **kw).numpy(), TF.fold(TF.unfold(tx, **kw), (6, 5), **kw).numpy(),
                               rtol=1e-6, atol=1e-6)
    assert gradgradcheck(lambda a: F.unfold(a, **kw), (_leaf((1, 2, 4, 5), 3),))


@pytest.mark.parametrize("name,xshape,wshape,kwargs", CONVS[:4] + CONVS[5:7])
def test_numba_and_numpy_paths_agree_bitwise(name, xshape, wshape, kwargs, monkeypatch):
    from kernels.cpu import conv as kernels
    x, w = _leaf(xshape, 0), _leaf(wshape, 1)

    def run():
        x.grad = w.grad = None
        y = getattr(F, name)(x, w, **kwargs)
        (y * y).sum().backward()
        return y.detach().numpy(), x.grad.numpy(), w.grad.numpy()
    fast = run()
    monkeypatch.setattr(kernels, "NUMBA", False)
    for a, b in zip(fast, run()):
        np.testing.assert_array_equal(a, b)

