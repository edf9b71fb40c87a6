"""Random numbers on device "cuda", drawn by the Philox kernels of ``kernels/cuda/rng.py``.

The kernels' CUDA source runs on the host (``conftest.emulator``) behind the numpy stand-in device, so these
tests exercise the exact code a GPU runs: determinism under a seed, distribution moments, generator state,
and that nothing is drawn by the CPU generator. NVRTC compile checks are in ``test_cuda_sources``.
"""
import numpy as np
import pytest

import framework
from framework.ops import random_ops
from kernels.cuda import rng

N = 200_000


@pytest.fixture(autouse=True)
def device_rng(numpy_cuda, emulator, monkeypatch):
    """The stand-in cuda device with the rng kernels run by the emulator; the CPU generator refuses to draw."""
    from conftest import DeviceArray
    numpy_cuda.update(rng.KERNELS)
    monkeypatch.setattr(rng, "launch", emulator.launch)
    monkeypatch.setattr(rng, "_empty", lambda shape, dtype: np.empty(shape, dtype).view(DeviceArray))
    monkeypatch.setattr(framework.cuda, "_generators", {})
    monkeypatch.setattr(framework.cuda, "_seed_all", [])

    def no_host_draw(generator=None):
        raise AssertionError("a cuda draw used the CPU generator")
    monkeypatch.setattr(random_ops, "_engine", no_host_draw)


def _host(t):
    assert t.device.type == "cuda"
    return np.asarray(t.cpu()._values() if t.dtype is framework.bfloat16 else t.cpu()._data)


def _philox_reference(counter, key):
    """Philox4x32-10 on one block, written from Random123's definition (the oracle of the CUDA source)."""
    c, k = list(counter), list(key)
    for r in range(10):
        if r:
            k = [(k[0] + 0x9E3779B9) & 0xFFFFFFFF, (k[1] + 0xBB67AE85) & 0xFFFFFFFF]
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & 0xFFFFFFFF, (p0 >> 32) ^ c[3] ^ k[1], p0 & 0xFFFFFFFF]
    return c


def test_philox_known_answers():
    # Random123's known-answer vectors for philox4x32-10
    assert _philox_reference([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert _philox_reference([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]


def test_integers_kernel_is_philox_bits():
    seed, offset = 0x1234_5678_9ABC_DEF0, 7
    bits = rng.rng_integers((5,), seed, offset, 0, 0).view(np.uint64)
    for i, value in enumerate(bits):
        r = _philox_reference([i, 0, offset, 0], [seed & 0xFFFFFFFF, seed >> 32])
        assert int(value) == (r[0] << 32) | r[1]


@pytest.mark.parametrize("dtype", [framework.float32, framework.float64, framework.float16, framework.bfloat16])
def test_rand_and_randn_moments_and_determinism(dtype):
    framework.manual_seed(0)
    u = framework.rand(N, device="cuda", dtype=dtype)
    z = framework.randn(N, device="cuda", dtype=dtype)
    assert u.dtype is dtype and z.dtype is dtype
    hu, hz = _host(u).astype(np.float64), _host(z).astype(np.float64)
    assert hu.min() >= 0 and hu.max() < 1
    assert abs(hu.mean() - 0.5) < 0.005 and abs(hu.var() - 1 / 12) < 0.002
    assert abs(hz.mean()) < 0.01 and abs(hz.std() - 1) < 0.01
    assert abs(np.mean(hz ** 3)) < 0.03 and abs(np.mean(hz ** 4) - 3) < 0.08  # skew 0, kurtosis 3
    framework.manual_seed(0)
    np.testing.assert_array_equal(_host(framework.rand(N, device="cuda", dtype=dtype)), _host(u))
    assert not np.array_equal(_host(framework.rand(N, device="cuda", dtype=dtype)), _host(u))


def test_cuda_manual_seed_and_rng_state():
    framework.cuda.manual_seed(3)
    a = _host(framework.randn(1000, device="cuda"))
    framework.cuda.manual_seed_all(3)
    np.testing.assert_array_equal(_host(framework.randn(1000, device="cuda")), a)
    state = framework.cuda.get_rng_state()
    assert state.dtype is framework.uint8 and tuple(state.shape) == (16,) and state.device.type == "cpu"
    b = _host(framework.rand(10, device="cuda"))
    framework.cuda.set_rng_state(state)
    np.testing.assert_array_equal(_host(framework.rand(10, device="cuda")), b)
    assert framework.cuda.initial_seed() == 3
    with pytest.raises(RuntimeError, match="CUDAGeneratorImplState of size 16"):
        framework.cuda.set_rng_state(framework.zeros(8, dtype=framework.uint8))
    framework.cuda.set_rng_state(state)
    framework.rand(10, device="cuda")
    second = _host(framework.rand(10, device="cuda"))
    framework.cuda.set_rng_state(state)
    framework.rand(10, device="cuda")
    with framework.random.fork_rng():
        framework.rand(10, device="cuda")
    np.testing.assert_array_equal(_host(framework.rand(10, device="cuda")), second)


def test_generators_and_their_devices():
    g = framework.Generator("cuda").manual_seed(5)
    a = _host(framework.rand(100, device="cuda", generator=g))
    np.testing.assert_array_equal(_host(framework.rand(100, device="cuda", generator=g.manual_seed(5))), a)
    with pytest.raises(RuntimeError, match="Expected a 'cuda' device type for generator but found 'cpu'"):
        framework.rand(3, device="cuda", generator=framework.Generator())
    with pytest.raises(RuntimeError, match="Expected a 'cpu' device type for generator but found 'cuda'"):
        framework.random._engine_of(g)


def test_framework_manual_seed_seeds_cuda_too():
    framework.manual_seed(11)
    a = _host(framework.randn(50, device="cuda"))
    framework.cuda.manual_seed(12)
    framework.manual_seed(11)
    np.testing.assert_array_equal(_host(framework.randn(50, device="cuda")), a)


def test_in_place_fills_any_layout():
    framework.manual_seed(1)
    x = framework.zeros(300, 400, device="cuda").t()  # non-contiguous
    x.uniform_(-2, 3)
    h = _host(x)
    assert h.min() >= -2 and h.max() < 3 and abs(h.mean() - 0.5) < 0.02
    x.normal_(4, 0.5)
    h = _host(x)
    assert abs(h.mean() - 4) < 0.01 and abs(h.std() - 0.5) < 0.01
    version = x._version
    x.bernoulli_(0.3)
    h = _host(x)
    assert set(np.unique(h)) <= {0.0, 1.0} and abs(h.mean() - 0.3) < 0.01 and x._version > version


def test_bernoulli_with_probability_tensor_and_dropout():
    framework.manual_seed(2)
    p = framework.tensor([0.0, 0.25, 1.0], device="cuda").expand(40000, 3)
    b = framework.bernoulli(p)
    h = _host(b)
    assert b.dtype is framework.float32
    np.testing.assert_array_equal(h[:, 0], 0)
    np.testing.assert_array_equal(h[:, 2], 1)
    assert abs(h[:, 1].mean() - 0.25) < 0.01
    with pytest.raises(RuntimeError, match="p_in >= 0 && p_in <= 1"):
        framework.bernoulli(framework.tensor([1.5], device="cuda"))
    x = framework.ones(100_000, device="cuda", requires_grad=True)
    y = framework.nn.functional.dropout(x, 0.2)
    y.sum().backward()
    hy, hg = _host(y.detach()), _host(x.grad)
    assert set(np.unique(hy)) == {0.0, 1.25} and abs((hy == 0).mean() - 0.2) < 0.01
    np.testing.assert_array_equal(hg, hy)


@pytest.mark.parametrize("dtype", [framework.int64, framework.int32, framework.uint8, framework.float32])
def test_integers(dtype):
    framework.manual_seed(4)
    r = framework.randint(-3, 5, (N,), device="cuda", dtype=dtype) if dtype is not framework.uint8 else \
        framework.randint(0, 8, (N,), device="cuda", dtype=dtype)
    h = _host(r)
    assert r.dtype is dtype
    counts = np.bincount((h - h.min()).astype(np.int64))
    assert len(counts) == 8 and np.all(np.abs(counts / N - 1 / 8) < 0.005)
    t = framework.zeros(1000, device="cuda", dtype=dtype).random_(10)
    assert _host(t).min() >= 0 and _host(t).max() <= 9 and len(np.unique(_host(t))) == 10
    like = framework.randint_like(r, 2, 4)
    assert set(np.unique(_host(like))) == {2, 3}


def test_randperm_and_multinomial():
    framework.manual_seed(6)
    perm = _host(framework.randperm(1000, device="cuda"))
    np.testing.assert_array_equal(np.sort(perm), np.arange(1000))
    assert not np.array_equal(perm, np.arange(1000))
    probs = framework.tensor([[0.1, 0.0, 0.6, 0.3], [1.0, 1.0, 1.0, 1.0]], device="cuda")
    draws = _host(framework.multinomial(probs, 20000, replacement=True))
    freq = np.stack([np.bincount(row, minlength=4) / 20000 for row in draws])
    np.testing.assert_allclose(freq, [[0.1, 0.0, 0.6, 0.3], [0.25] * 4], atol=0.015)
    picks = _host(framework.multinomial(probs, 3))
    for row in picks:
        assert len(set(row.tolist())) == 3
    assert 1 not in picks[0]
    first = np.bincount(_host(framework.multinomial(probs[0].expand(20000, 4), 1))[:, 0], minlength=4) / 20000
    np.testing.assert_allclose(first, [0.1, 0.0, 0.6, 0.3], atol=0.015)
    with pytest.raises(RuntimeError, match="not enough non-negative category"):
        framework.multinomial(probs[0], 4)


def test_normal_with_tensor_arguments_and_other_distributions():
    framework.manual_seed(8)
    mean = framework.tensor([0.0, 10.0], device="cuda").expand(N // 2, 2)
    z = _host(framework.normal(mean, 2.0))
    np.testing.assert_allclose(z.mean(axis=0), [0, 10], atol=0.05)
    np.testing.assert_allclose(z.std(axis=0), [2, 2], atol=0.05)
    std = framework.tensor([1.0, 3.0], device="cuda")
    w = _host(framework.normal(5.0, std.expand(N // 2, 2)))
    np.testing.assert_allclose(w.std(axis=0), [1, 3], atol=0.05)
    x = framework.empty(N, device="cuda", dtype=framework.float64)
    assert abs(_host(x.exponential_(2.0)).mean() - 0.5) < 0.01
    assert abs(np.median(_host(x.cauchy_(1.0, 2.0))) - 1.0) < 0.05
    assert abs(np.log(_host(x.log_normal_(0.5, 0.25))).mean() - 0.5) < 0.01
    g = _host(x.geometric_(0.25))
    assert g.min() >= 1 and abs(g.mean() - 4) < 0.05
