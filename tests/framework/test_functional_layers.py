"""pad, interpolate, pixel (un)shuffle, embedding, one_hot, attention and distances against PyTorch."""
import numpy as np
import pytest

import framework
import framework.nn.functional as F
from framework.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(shape, seed):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return framework.tensor(a), torch.tensor(a)


def _leaf(shape, seed):
    return framework.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("pad,mode", [
    ((1, 2), "constant"), ((2, -1, 0, 3), "constant"), ((1, 2, 2, 1), "reflect"), ((3, 1, 0, 2), "replicate"),
    ((-1, 1, 2, 0), "circular"), ((1, -2, 1, 1), "replicate"),
])
def test_pad_matches_torch(pad, mode):
    x, tx = _pair((2, 3, 4, 5), 0)
    got, want = F.pad(x, pad, mode=mode), TF.pad(tx, pad, mode=mode)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert gradgradcheck(lambda a: F.pad(a, pad, mode=mode), (_leaf((1, 2, 4, 5), 1),))


def test_pad_value_and_errors():
    x, tx = _pair((2, 3), 0)
    np.testing.assert_array_equal(F.pad(x, (1, 1, 2, 0), value=-3.5).numpy(), TF.pad(tx, (1, 1, 2, 0), value=-3.5))
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(x, (1,))
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 4D input tensor"):
        F.pad(framework.zeros(1, 2, 3, 4), (1, 1), mode="reflect")
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        F.pad(framework.zeros(1, 2, 3), (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode foo"):
        F.pad(x, (1, 1), mode="foo")


@pytest.mark.parametrize("shape,kwargs", [
    ((1, 2, 5), dict(size=8, mode="nearest")),
    ((1, 2, 4, 5), dict(scale_factor=1.7, mode="nearest")),
    ((1, 2, 4, 5), dict(size=(3, 7), mode="nearest-exact")),
    ((1, 2, 5), dict(scale_factor=2.5, mode="linear")),
    ((1, 2, 4, 5), dict(size=(7, 3), mode="bilinear", align_corners=True)),
    ((1, 2, 4, 5), dict(scale_factor=(1.5, 0.6), mode="bilinear", recompute_scale_factor=True)),
    ((1, 2, 4, 5), dict(size=(6, 9), mode="bicubic")),
    ((1, 1, 3, 4, 2), dict(scale_factor=2, mode="trilinear")),
    ((1, 2, 7, 5), dict(size=(3, 2), mode="area")),
])
def test_interpolate_matches_torch(shape, kwargs):
    x, tx = _pair(shape, 0)
    got, want = F.interpolate(x, **kwargs), TF.interpolate(tx, **kwargs)
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_interpolate_gradients_and_errors():
    assert gradgradcheck(lambda a: F.interpolate(a, size=(3, 5), mode="bilinear"), (_leaf((1, 1, 2, 3), 0),))
    assert gradcheck(lambda a: F.interpolate(a, scale_factor=2), (_leaf((1, 1, 2, 3), 1),))
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(framework.zeros(1, 2, 3), size=4, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(framework.zeros(1, 2, 3), size=4, align_corners=True)
    with pytest.raises(NotImplementedError, match="Got 3D input, but bilinear mode needs 4D input"):
        F.interpolate(framework.zeros(1, 2, 3), size=4, mode="bilinear")


def test_pixel_shuffle_roundtrip():
    x, tx = _pair((2, 8, 3, 2), 0)
    got = F.pixel_shuffle(x, 2)
    np.testing.assert_array_equal(got.numpy(), TF.pixel_shuffle(tx, 2).numpy())
    np.testing.assert_array_equal(F.pixel_unshuffle(got, 2).numpy(), x.numpy())
    with pytest.raises(RuntimeError, match="is not divisible by 4"):
        F.pixel_shuffle(framework.zeros(1, 3, 2, 2), 2)


def test_embedding_padding_and_frequency_scaling():
    w, tw = _pair((6, 3), 0)
    w.requires_grad_(True)
    tw.requires_grad_(True)
    idx = [[1, 2, 1], [0, 5, 1]]
    out = F.embedding(framework.tensor(idx), w, padding_idx=-5, scale_grad_by_freq=True)
    tout = TF.embedding(torch.tensor(idx), tw, padding_idx=-5, scale_grad_by_freq=True)
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
    cot = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    (out * framework.tensor(cot)).sum().backward()
    (tout * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-6)
    assert gradgradcheck(lambda a: F.embedding(framework.tensor([3, 0, 3]), a), (_leaf((4, 2), 2),))
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(framework.tensor([6]), w)
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices'"):
        F.embedding(framework.tensor([1.0]), w)


def test_embedding_max_norm_renormalises_rows_in_place():
    w = framework.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    F.embedding(framework.tensor([0, 1]), w, max_norm=1.0)
    tw = torch.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    TF.embedding(torch.tensor([0, 1]), tw, max_norm=1.0)
    np.testing.assert_allclose(w.numpy(), tw.numpy(), rtol=1e-6)


def test_one_hot():
    out = F.one_hot(framework.tensor([[0, 2], [1, 0]]))
    assert out.dtype == framework.int64 and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.numpy(), TF.one_hot(torch.tensor([[0, 2], [1, 0]])).numpy())
    assert F.one_hot(framework.tensor([1]), 4).tolist() == [[0, 1, 0, 0]]
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
        F.one_hot(framework.tensor([3]), 3)


@pytest.mark.parametrize("kwargs", [{}, {"is_causal": True}, {"scale": 0.3}, {"mask": "bool"}, {"mask": "float"}])
def test_scaled_dot_product_attention(kwargs):
    q, tq = _pair((2, 3, 4, 5), 0)
    k, tk = _pair((2, 3, 6, 5), 1)
    v, tv = _pair((2, 3, 6, 2), 2)
    kwargs = dict(kwargs)
    mask = kwargs.pop("mask", None)
    if mask == "bool":
        m = np.random.default_rng(3).random((4, 6)) > 0.4
        m[1] = False  # a fully masked row gives zeros
        kwargs["attn_mask"], tkw = framework.tensor(m), dict(kwargs, attn_mask=torch.tensor(m))
    elif mask == "float":
        m = np.random.default_rng(3).standard_normal((4, 6)).astype(np.float32)
        kwargs["attn_mask"], tkw = framework.tensor(m), dict(kwargs, attn_mask=torch.tensor(m))
    else:
        tkw = kwargs
    got = F.scaled_dot_product_attention(q, k, v, **kwargs)
    want = TF.scaled_dot_product_attention(tq, tk, tv, **tkw)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_attention_gqa_and_gradients():
    q, tq = _pair((1, 4, 3, 2), 0)
    k, tk = _pair((1, 2, 5, 2), 1)
    v, tv = _pair((1, 2, 5, 3), 2)
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, enable_gqa=True).numpy(),
                               TF.scaled_dot_product_attention(tq, tk, tv, enable_gqa=True).numpy(), rtol=1e-5,
                               atol=1e-6)
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True),
                     (_leaf((2, 3, 2), 0), _leaf((2, 3, 2), 1), _leaf((2, 3, 2), 2)))


def test_distances():
    a, ta = _pair((4, 5), 0)
    b, tb = _pair((1, 5), 1)
    np.testing.assert_allclose(F.cosine_similarity(a, b).numpy(), TF.cosine_similarity(ta, tb).numpy(), rtol=1e-5)
    for p in (1.0, 2.0, 3.0, float("inf")):
        np.testing.assert_allclose(F.pairwise_distance(a, b, p=p, keepdim=True).numpy(),
                                   TF.pairwise_distance(ta, tb, p=p, keepdim=True).numpy(), rtol=1e-5)
    np.testing.assert_allclose(F.pdist(a).numpy(), TF.pdist(ta).numpy(), rtol=1e-5)
    # Below eps the norm is floored but PyTorch's gradient still flows through it unfloored.
    x1 = framework.tensor([0.1, 0.2], requires_grad=True)
    F.cosine_similarity(x1, framework.tensor([3.0, 1.0]), dim=0, eps=0.5).backward()
    tx1 = torch.tensor([0.1, 0.2], requires_grad=True)
    TF.cosine_similarity(tx1, torch.tensor([3.0, 1.0]), dim=0, eps=0.5).backward()
    np.testing.assert_allclose(x1.grad.numpy(), tx1.grad.numpy(), rtol=1e-5)
    assert gradcheck(lambda u, w: F.pairwise_distance(u, w, p=3.0), (_leaf((3, 4), 2), _leaf((3, 4), 3)))
