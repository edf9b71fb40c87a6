"""The random stream: bit-identical to PyTorch's CPU generator, plus state handling and argument errors."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import framework
import framework.ops.random_ops as ro
import framework.random as fr
from kernels.cpu import mt19937 as mt

SEEDS = [0, 1, 1234, 2 ** 40 + 7]
SIZES = [1, 7, 15, 16, 17, 100, 1000]
FLOATS = ["float32", "float64", "float16", "bfloat16"]


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------

def fdt(name):
    return getattr(framework, name)


def bits_fw(t):
    """A framework tensor's raw storage in logical (C) order."""
    return np.ascontiguousarray(t._data)


def bits_torch(t):
    import torch
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy()


def assert_same(a, b):
    """Framework tensor ``a`` equals torch tensor ``b`` bit for bit (shape and dtype too)."""
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    x, y = bits_fw(a).reshape(-1), bits_torch(b).reshape(-1)
    assert x.dtype == y.dtype or (x.dtype.kind == y.dtype.kind and x.itemsize == y.itemsize), (x.dtype, y.dtype)
    if not np.array_equal(x.view(np.uint8), y.view(np.uint8)):
        bad = np.flatnonzero(x.reshape(-1) != y.reshape(-1))
        raise AssertionError(f"{bad.size} of {x.size} differ, first at {bad[:5]}: {x.reshape(-1)[bad[:5]]} vs "
                             f"{y.reshape(-1)[bad[:5]]}")


def to_fw(t):
    """A framework tensor with exactly the values of torch tensor ``t``."""
    import torch
    if t.dtype == torch.bfloat16:
        return framework.tensor(t.float().numpy(), dtype=framework.bfloat16)
    return framework.tensor(t.numpy().copy())


def seed_both(s):
    import torch
    torch.manual_seed(s)
    fr.manual_seed(s)


def assert_states_equal():
    """The whole generator state (words, counters, cached normal) matches torch's."""
    import torch
    assert np.array_equal(fr.get_rng_state()._data, torch.get_rng_state().numpy())


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


# --------------------------------------------------------------------------------------------------
# engine and state
# --------------------------------------------------------------------------------------------------

def test_engine_words_match_reference_mt19937():
    # The first outputs of MT19937 seeded with 5489 (the reference implementation's default).
    e = mt.MT19937(5489)
    assert e.random(3).tolist() == [3499211612, 581869302, 3890346734]
    e.manual_seed(5489)
    w = e.random(10000)
    assert int(w[-1]) == 4123659995  # the 10000th output, as std::mt19937 documents


def test_state_layout_matches_torch(torch):
    for s in SEEDS:
        seed_both(s)
        assert_states_equal()
        ro.randn(3)
        torch.randn(3)          # leaves a cached normal sample
        assert_states_equal()
        ro.rand(700)
        torch.rand(700)         # crosses a twist
        assert_states_equal()


def test_load_torch_state_and_back(torch):
    torch.manual_seed(99)
    torch.randn(5)
    state = torch.get_rng_state()
    fr.set_rng_state(framework.tensor(state.numpy()))
    assert_same(ro.randn(7), torch.randn(7))
    assert_same(ro.rand(40, dtype=framework.float64), torch.rand(40, dtype=torch.float64))
    torch.set_rng_state(torch.from_numpy(np.array(fr.get_rng_state()._data)))
    assert_same(ro.randn(3), torch.randn(3))


def test_initial_seed_and_seed(torch):
    assert fr.manual_seed(-1).initial_seed() == torch.manual_seed(-1).initial_seed()
    fr.manual_seed(2 ** 64 - 1)
    assert fr.initial_seed() == 2 ** 64 - 1
    s = fr.seed()
    assert fr.initial_seed() == s and 0 <= s < 2 ** 64
    torch.manual_seed(s)
    assert_same(ro.rand(5), torch.rand(5))


# --------------------------------------------------------------------------------------------------
# uniform
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
def test_rand_matches(torch, dtype):
    for s in SEEDS:
        seed_both(s)
        for n in SIZES:
            assert_same(ro.rand(n, dtype=fdt(dtype)), torch.rand(n, dtype=getattr(torch, dtype)))
        assert_same(ro.rand(3, 5, dtype=fdt(dtype)), torch.rand(3, 5, dtype=getattr(torch, dtype)))


@pytest.mark.parametrize("dtype", FLOATS)
def test_uniform_range_matches(torch, dtype):
    seed_both(5)
    for lo, hi in [(-3.3, 7.1), (2.0, 2.0), (-1e-3, 1e-3), (0.0, 1000.0), (-5, 5)]:
        a = framework.empty(257, dtype=fdt(dtype)).uniform_(lo, hi)
        b = torch.empty(257, dtype=getattr(torch, dtype)).uniform_(lo, hi)
        assert_same(a, b)


# --------------------------------------------------------------------------------------------------
# normal
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
def test_randn_matches(torch, dtype):
    for s in SEEDS:
        seed_both(s)
        for n in SIZES:
            assert_same(ro.randn(n, dtype=fdt(dtype)), torch.randn(n, dtype=getattr(torch, dtype)))
        assert_same(ro.randn(3, 37, dtype=fdt(dtype)), torch.randn(3, 37, dtype=getattr(torch, dtype)))
        assert_states_equal()


@pytest.mark.parametrize("dtype", FLOATS)
def test_normal_mean_std_matches(torch, dtype):
    seed_both(11)
    for n in [5, 16, 33, 1000]:
        for m, s in [(0.3, 2.7), (-4.0, 0.01), (1.0, 0.0)]:
            a = framework.empty(n, dtype=fdt(dtype)).normal_(m, s)
            b = torch.empty(n, dtype=getattr(torch, dtype)).normal_(m, s)
            assert_same(a, b)
            assert_same(ro.normal(m, s, (n,), dtype=fdt(dtype)), torch.normal(m, s, (n,), dtype=getattr(torch, dtype)))


def test_normal_large_bit_exact(torch):
    for s in [0, 3]:
        seed_both(s)
        for dtype in FLOATS:
            assert_same(ro.randn(100_003, dtype=fdt(dtype)), torch.randn(100_003, dtype=getattr(torch, dtype)))


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_normal_tensor_variants(torch, dtype):
    seed_both(21)
    tdt = getattr(torch, dtype)
    for shape_m, shape_s in [((20,), (20,)), ((3, 1), (1, 7)), ((5,), (5,))]:
        mean = torch.randn(shape_m, dtype=tdt)
        std = torch.rand(shape_s, dtype=tdt) * 3
        fmean, fstd = to_fw(mean), to_fw(std)
        ro.randn(shape_m, dtype=fdt(dtype))   # keep the streams in step (torch drew these above)
        ro.rand(shape_s, dtype=fdt(dtype))
        assert_same(ro.normal(fmean, fstd), torch.normal(mean, std))
        assert_same(ro.normal(fmean, 2.5), torch.normal(mean, 2.5))
        assert_same(ro.normal(fmean), torch.normal(mean))
        assert_same(ro.normal(-1.5, fstd), torch.normal(-1.5, std))
    assert_states_equal()


def test_generic_build_profile_matches_aten_default_capability(torch, monkeypatch, tmp_path):
    # PyTorch run with ATEN_CPU_CAPABILITY=default uses its generic (non-AVX2, no-FMA-contraction)
    # kernels, as on CPUs without AVX2; the "generic" profile must then match it.
    import os
    import subprocess
    import sys
    code = (
        "import sys, numpy as np, torch\n"
        "torch.manual_seed(0)\n"
        "out = [torch.randn(1000), torch.empty(300).uniform_(-3.3, 7.1),\n"
        "       torch.empty(300, dtype=torch.float64).uniform_(-3.3, 7.1),\n"
        "       torch.empty(5, dtype=torch.float64).normal_(0.3, 2.7), torch.randn(40, dtype=torch.float64),\n"
        "       torch.randn(100, dtype=torch.float16), torch.empty(50, dtype=torch.float64).cauchy_(0.5, 2.0)]\n"
        "np.savez(sys.argv[1], *[t.numpy() for t in out])\n")
    path = tmp_path / "ref.npz"
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    subprocess.run([sys.executable, "-c", code, str(path)], env=env, check=True, timeout=120)
    ref = np.load(path)
    monkeypatch.setitem(mt.PROFILE, "avx2_normal", False)
    monkeypatch.setitem(mt.PROFILE, "fused", False)
    e = mt.MT19937(0)
    mine = [mt.normal(e, 1000, "float32"), mt.uniform(e, 300, "float32", -3.3, 7.1),
            mt.uniform(e, 300, "float64", -3.3, 7.1), mt.normal(e, 5, "float64", 0.3, 2.7),
            mt.normal(e, 40, "float64"), mt.normal(e, 100, "float16"), mt.cauchy(e, 50, 0.5, 2.0, "float64")]
    for i, values in enumerate(mine):
        assert np.array_equal(values, ref[f"arr_{i}"]), i


def test_normal_mixed_dtypes(torch):
    for md, sd in [("float32", "float64"), ("float16", "float32"), ("bfloat16", "float16"), ("float64", "float32")]:
        seed_both(3)
        m = torch.randn(40, dtype=getattr(torch, md)) * 3
        s = torch.rand(40, dtype=getattr(torch, sd)) * 2
        fm, fs = to_fw(m), to_fw(s)
        ro.randn(40, dtype=fdt(md))
        ro.rand(40, dtype=fdt(sd))
        assert_same(ro.normal(fm, fs), torch.normal(m, s))
        assert_same(ro.normal(0.1234567, fs), torch.normal(0.1234567, s))
        assert_same(ro.normal(fm, 0.777), torch.normal(m, 0.777))
        assert_states_equal()


def test_zero_dim_and_size_keyword(torch):
    seed_both(1)
    assert_same(framework.empty((), dtype=framework.int64).random_(), torch.empty((), dtype=torch.int64).random_())
    assert_same(ro.rand(()), torch.rand(()))
    assert_same(ro.randn([]), torch.randn([]))
    assert_same(ro.rand(size=(2, 3)), torch.rand(size=(2, 3)))
    assert_same(ro.randint(3, 9, size=(4,)), torch.randint(3, 9, size=(4,)))
    for d in ["int8", "int64", "uint8", "float16", "bfloat16", "float32", "float64"]:
        assert_same(framework.empty(30, dtype=fdt(d)).geometric_(0.2), torch.empty(30, dtype=getattr(torch, d)).geometric_(0.2))


def test_normal_cache_interleaving(torch):
    seed_both(7)
    ops = [
        lambda m: m.randn(3),                         # scalar path, caches one sample
        lambda m: m.randn(5, dtype=m.float64),        # consumes the cache first
        lambda m: m.randn(20),                        # vectorised path, cache untouched
        lambda m: m.randn(1),                         # uses the cached sample
        lambda m: m.rand(4),
        lambda m: m.randn(1),
        lambda m: m.randint(0, 10, (6,)),
        lambda m: m.randn(2, 2),
        lambda m: m.randperm(9),
        lambda m: m.randn(17, dtype=m.float16),
        lambda m: m.rand(3, dtype=m.float64),
    ]

    class FW:
        randn, rand, randint, randperm = ro.randn, ro.rand, ro.randint, ro.randperm
        float64, float16 = framework.float64, framework.float16
    for op in ops:
        assert_same(op(FW), op(torch))
        assert_states_equal()


def test_non_contiguous_inplace_uses_memory_order(torch):
    seed_both(3)
    a = framework.empty(8, 5).t()
    b = torch.empty(8, 5).t()
    assert_same(a.uniform_(), b.uniform_())
    assert_same(a.normal_(), b.normal_())        # 40 elements, not contiguous: scalar path
    assert_same(a.random_(0, 100), b.random_(0, 100))
    mem = np.zeros((6, 10), dtype=np.float32)
    base_b = torch.zeros(6, 10)
    strided = framework.from_numpy(mem[:, ::2])          # a non-contiguous view
    assert_same(strided.normal_(), base_b[:, ::2].normal_())
    assert_same(framework.from_numpy(mem), base_b)
    assert_states_equal()


# --------------------------------------------------------------------------------------------------
# integers
# --------------------------------------------------------------------------------------------------

INT_DTYPES = ["int64", "int32", "int16", "int8", "uint8"]


@pytest.mark.parametrize("dtype", INT_DTYPES + ["float32", "float64", "float16", "bfloat16"])
def test_randint_matches(torch, dtype):
    seed_both(17)
    tdt, fd = getattr(torch, dtype), fdt(dtype)
    ranges = [(0, 10), (0, 2), (0, 100)] + ([] if dtype == "uint8" else [(-5, 3)])
    if dtype in ("int64", "int32", "float32", "float64"):
        ranges += [(0, 2 ** 28), (-2 ** 29, 2 ** 29)]
    if dtype in ("int64", "float64"):
        ranges += [(-2 ** 40, 2 ** 41 + 3)]
    for lo, hi in ranges:
        for n in [1, 17, 300]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                a = ro.randint(lo, hi, (n,), dtype=fd)
                b = torch.randint(lo, hi, (n,), dtype=tdt)
            assert_same(a, b)
    assert_same(ro.randint(7, (3, 4)), torch.randint(7, (3, 4)))
    assert_states_equal()


@pytest.mark.parametrize("dtype", INT_DTYPES + ["bool"] + FLOATS)
def test_random_unbounded_matches(torch, dtype):
    seed_both(23)
    tdt, fd = getattr(torch, dtype), fdt(dtype)
    assert_same(framework.empty(50, dtype=fd).random_(), torch.empty(50, dtype=tdt).random_())
    if dtype != "bool":
        assert_same(framework.empty(50, dtype=fd).random_(9), torch.empty(50, dtype=tdt).random_(9))
        assert_same(framework.empty(50, dtype=fd).random_(3, None), torch.empty(50, dtype=tdt).random_(3, None))
    assert_states_equal()


def test_random_full_int64_range_and_like(torch):
    seed_both(31)
    assert_same(framework.empty(20, dtype=framework.int64).random_(-2 ** 63, None),
                torch.empty(20, dtype=torch.int64).random_(-2 ** 63, None))
    x, y = framework.zeros(3, 4, dtype=framework.int32), torch.zeros(3, 4, dtype=torch.int32)
    assert_same(ro.randint_like(x, 10), torch.randint_like(y, 10))
    assert_same(ro.randint_like(x, -4, 4), torch.randint_like(y, -4, 4))
    assert_same(ro.randint(0, 2, (9,), dtype=framework.bool), torch.randint(0, 2, (9,), dtype=torch.bool))


@pytest.mark.parametrize("n", [0, 1, 2, 7, 100, 1000])
def test_randperm_matches(torch, n):
    seed_both(n + 3)
    assert_same(ro.randperm(n), torch.randperm(n))
    assert_same(ro.randperm(n, dtype=framework.int32), torch.randperm(n, dtype=torch.int32))
    assert_same(ro.randperm(n, dtype=framework.float32), torch.randperm(n, dtype=torch.float32))
    assert_states_equal()


def test_randperm_large_path_is_a_permutation():
    # n >= 2^32 / 20 switches to the inside-out shuffle with 64-bit draws; check the algorithm on the
    # kernel directly with a small n (the same code path torch takes for huge n).
    e = mt.MT19937(0)
    out = np.empty(1000, dtype=np.int64)
    draws = e.random64(1000)
    mt._kernel("_randperm")(out, draws, False)
    assert sorted(out.tolist()) == list(range(1000))
    ref = []
    for i in range(1000):
        z = int(draws[i]) % (i + 1)
        ref.append(i)
        ref[i] = ref[z]
        ref[z] = i
    assert out.tolist() == ref


# --------------------------------------------------------------------------------------------------
# bernoulli, exponential and friends
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pdtype", FLOATS)
def test_bernoulli_tensor_matches(torch, pdtype):
    seed_both(41)
    tdt = getattr(torch, pdtype)
    p = torch.rand(4, 33, dtype=tdt)
    fp = to_fw(p)
    ro.rand(4, 33, dtype=fdt(pdtype))
    assert_same(ro.bernoulli(fp), torch.bernoulli(p))
    assert_same(framework.empty(4, 33).bernoulli_(fp), torch.empty(4, 33).bernoulli_(p))
    assert_same(framework.empty(3, 4, 33, dtype=framework.int64).bernoulli_(fp),
                torch.empty(3, 4, 33, dtype=torch.int64).bernoulli_(p))
    assert_same(fp.bernoulli(), p.bernoulli())
    assert_states_equal()


@pytest.mark.skipif(mt.cpu_is_intel(), reason="torch uses MKL's own stream for bernoulli_(float) on Intel CPUs")
@pytest.mark.parametrize("dtype", ["float32", "float64", "bool", "int64", "bfloat16"])
def test_bernoulli_scalar_matches(torch, dtype):
    seed_both(43)
    tdt, fd = getattr(torch, dtype), fdt(dtype)
    for p in [0.0, 0.3, 0.5, 1.0]:
        assert_same(framework.empty(100, dtype=fd).bernoulli_(p), torch.empty(100, dtype=tdt).bernoulli_(p))
    x, y = framework.zeros(2, 9, dtype=fd), torch.zeros(2, 9, dtype=tdt)
    assert_same(ro.bernoulli(x, 0.7), torch.bernoulli(y, 0.7))
    assert_states_equal()


@pytest.mark.parametrize("dtype", FLOATS)
def test_exponential_and_other_samplers(torch, dtype):
    seed_both(47)
    tdt, fd = getattr(torch, dtype), fdt(dtype)
    for lam in [1.0, 0.25, 7.5]:
        assert_same(framework.empty(64, dtype=fd).exponential_(lam), torch.empty(64, dtype=tdt).exponential_(lam))
    assert_same(framework.empty(64, dtype=fd).cauchy_(0.5, 2.0), torch.empty(64, dtype=tdt).cauchy_(0.5, 2.0))
    assert_same(framework.empty(21, dtype=fd).log_normal_(0.1, 0.5), torch.empty(21, dtype=tdt).log_normal_(0.1, 0.5))
    assert_same(framework.empty(64, dtype=fd).geometric_(0.3), torch.empty(64, dtype=tdt).geometric_(0.3))
    assert_states_equal()


# --------------------------------------------------------------------------------------------------
# multinomial
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
def test_multinomial_matches(torch, dtype):
    seed_both(53)
    tdt, fd = getattr(torch, dtype), fdt(dtype)
    probs1 = torch.rand(10, dtype=tdt) + 0.05
    probs2 = torch.rand(4, 25, dtype=tdt)
    probs2[1, 3] = 0
    f1, f2 = to_fw(probs1), to_fw(probs2)
    fr.set_rng_state(framework.tensor(torch.get_rng_state().numpy()))
    # p / q rounded to half/bfloat16 often ties; topk places ties where libstdc++'s algorithms leave them
    for k, repl in [(1, False), (3, False), (10, False), (1, True), (5, True), (40, True)]:
        assert_same(ro.multinomial(f1, k, repl), torch.multinomial(probs1, k, repl))
        assert_same(f2.multinomial(min(k, 24), replacement=repl), probs2.multinomial(min(k, 24), replacement=repl))
    assert_states_equal()
    # ties in a single draw go to the first maximal index, as argmax does
    seed_both(54)
    even = torch.full((3, 6), 0.5, dtype=tdt)
    assert_same(ro.multinomial(to_fw(even), 1), torch.multinomial(even, 1))
    # more samples than non-zero weights: the zeros tie and are picked in topk's order
    sparse = torch.tensor([[0.0, 0.3, 0.0, 0.0, 0.7, 0.0] * 4] * 2, dtype=tdt)
    for k in (5, 20):
        assert_same(ro.multinomial(to_fw(sparse), k), torch.multinomial(sparse, k))


def test_topk_tie_order_matches(torch):
    rng = np.random.default_rng(0)
    for n, k in [(5, 3), (20, 7), (40, 39), (200, 3), (1000, 10), (64, 1), (17, 16)]:
        for levels in (1, 2, 4):
            v = rng.integers(0, levels, n).astype(np.float32)
            assert mt.topk_indices(v, k).tolist() == torch.topk(torch.from_numpy(v), k).indices.tolist()


# --------------------------------------------------------------------------------------------------
# generators, like-functions, out=
# --------------------------------------------------------------------------------------------------

def test_generator_objects_match(torch):
    torch.manual_seed(0)
    fr.manual_seed(0)
    g, tg = fr.Generator().manual_seed(77), torch.Generator().manual_seed(77)
    assert g.initial_seed() == tg.initial_seed() == 77
    assert_same(ro.rand(10, generator=g), torch.rand(10, generator=tg))
    assert_same(ro.randn(20, generator=g), torch.randn(20, generator=tg))
    assert_same(ro.randint(0, 5, (7,), generator=g), torch.randint(0, 5, (7,), generator=tg))
    assert_same(ro.randperm(12, generator=g), torch.randperm(12, generator=tg))
    assert_same(framework.empty(9).uniform_(generator=g), torch.empty(9).uniform_(generator=tg))
    assert_same(framework.empty(9).normal_(generator=g), torch.empty(9).normal_(generator=tg))
    assert_same(framework.empty(9).random_(generator=g), torch.empty(9).random_(generator=tg))
    assert_same(framework.empty(9).exponential_(generator=g), torch.empty(9).exponential_(generator=tg))
    p = torch.rand(6, generator=tg)
    fp = ro.rand(6, generator=g)
    assert_same(ro.bernoulli(fp, generator=g), torch.bernoulli(p, generator=tg))
    assert_same(ro.multinomial(fp, 2, generator=g), torch.multinomial(p, 2, generator=tg))
    assert_same(ro.normal(0.0, 1.0, (4,), generator=g), torch.normal(0.0, 1.0, (4,), generator=tg))
    assert np.array_equal(g.get_state()._data, tg.get_state().numpy())
    # the default generators were not touched
    assert_states_equal()
    assert_same(ro.rand(3), torch.rand(3))


def test_like_functions_follow_input_layout(torch):
    seed_both(61)
    x, y = framework.zeros(6, 8).t(), torch.zeros(6, 8).t()
    assert_same(ro.rand_like(x), torch.rand_like(y))
    assert_same(ro.randn_like(x), torch.randn_like(y))          # permuted layout: scalar normal path
    assert_same(ro.randn_like(x, dtype=framework.float64), torch.randn_like(y, dtype=torch.float64))
    z, w = framework.zeros(4, 9), torch.zeros(4, 9)
    assert_same(ro.randn_like(z), torch.randn_like(w))
    assert_same(ro.randint_like(x, 3, 9), torch.randint_like(y, 3, 9))
    assert_states_equal()


def test_out_argument(torch):
    seed_both(67)
    o, to = framework.empty(2, 3, dtype=framework.float64), torch.empty(2, 3, dtype=torch.float64)
    assert ro.rand(2, 3, out=o) is o
    torch.rand(2, 3, out=to)
    assert_same(o, to)
    o2, to2 = framework.empty(5, dtype=framework.int32), torch.empty(5, dtype=torch.int32)
    ro.randint(0, 9, (5,), out=o2)
    torch.randint(0, 9, (5,), out=to2)
    assert_same(o2, to2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ro.randn(5, out=o)
        torch.randn(5, out=to)
    assert_same(o, to)


def test_device_argument_draws_cpu_stream():
    fr.manual_seed(5)
    ref = ro.rand(6)
    for dev in ["npu", "cuda"]:
        fr.manual_seed(5)
        try:
            t = ro.rand(6, device=dev)
        except Exception:
            continue
        assert t.device.type == dev
        assert np.array_equal(np.asarray(t.cpu()._data), ref._data)


# --------------------------------------------------------------------------------------------------
# without torch: determinism, state handling, errors
# --------------------------------------------------------------------------------------------------

def test_determinism_and_state_restore():
    fr.manual_seed(123)
    a = [ro.rand(5), ro.randn(3), ro.randint(0, 9, (4,)), ro.randperm(6)]
    fr.manual_seed(123)
    b = [ro.rand(5), ro.randn(3), ro.randint(0, 9, (4,)), ro.randperm(6)]
    for x, y in zip(a, b):
        assert np.array_equal(x._data, y._data)
    ro.randn(1)                     # leave a cached normal
    st = fr.get_rng_state()
    assert st.dtype is framework.uint8 and tuple(st.shape) == (5056,)
    first = [ro.randn(1), ro.randn(33), ro.rand(2)]
    fr.set_rng_state(st)
    second = [ro.randn(1), ro.randn(33), ro.rand(2)]
    for x, y in zip(first, second):
        assert np.array_equal(x._data, y._data)


def test_fork_rng_and_generator_copies():
    fr.manual_seed(1)
    with fr.fork_rng():
        ro.rand(100)
    after = ro.rand(3)
    fr.manual_seed(1)
    assert np.array_equal(after._data, ro.rand(3)._data)
    g = fr.Generator().manual_seed(9)
    ro.randn(5, generator=g)
    for clone in (copy.deepcopy(g), pickle.loads(pickle.dumps(g))):
        assert np.array_equal(ro.randn(5, generator=clone)._data, ro.randn(5, generator=copy.deepcopy(g))._data)


def test_independent_generators():
    g1, g2 = fr.Generator().manual_seed(3), fr.Generator().manual_seed(3)
    fr.manual_seed(0)
    a = ro.rand(4, generator=g1)
    ro.rand(10)
    b = ro.rand(4, generator=g2)
    assert np.array_equal(a._data, b._data)
    assert fr.Generator().initial_seed() == 67280421310721


def test_values_in_range():
    fr.manual_seed(0)
    x = ro.rand(1000)._data
    assert x.min() >= 0 and x.max() < 1
    r = ro.randint(-3, 4, (1000,))._data
    assert r.min() == -3 and r.max() == 3
    m = ro.multinomial(framework.tensor([0.0, 1.0, 2.0, 0.0]), 2)._data
    assert sorted(m.tolist()) == [1, 2]
    b = framework.empty(1000).bernoulli_(0.25)._data
    assert set(np.unique(b).tolist()) <= {0.0, 1.0}


def test_errors():
    with pytest.raises(RuntimeError, match=r"random_ expects 'from' to be less than 'to', but got from=5 >= to=3"):
        ro.randint(5, 3, (2,))
    with pytest.raises(RuntimeError, match="from is out of bounds for unsigned char"):
        ro.randint(-1, 300, (2,), dtype=framework.uint8)
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        ro.randint(3, (2,), requires_grad=True)
    with pytest.raises(TypeError):
        ro.randint(3)
    with pytest.raises(RuntimeError, match="probability tensor contains either `inf`, `nan` or element < 0"):
        ro.multinomial(framework.tensor([0.5, -0.1]), 1)
    with pytest.raises(RuntimeError, match=r"encountering probability entry < 0"):
        ro.multinomial(framework.tensor([0.5, -0.1]), 2, True)
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist.size"):
        ro.multinomial(framework.tensor([0.5, 0.1]), 3)
    with pytest.raises(RuntimeError, match=r"sum of probabilities <= 0"):
        ro.multinomial(framework.tensor([0.0, 0.0]), 1)
    with pytest.raises(RuntimeError, match="cannot sample n_sample <= 0 samples"):
        ro.multinomial(framework.tensor([1.0]), 0)
    with pytest.raises(RuntimeError, match="prob_dist must be 1 or 2 dim"):
        ro.multinomial(framework.ones(2, 2, 2), 1)
    with pytest.raises(RuntimeError, match="only supports floating-point dtypes"):
        ro.multinomial(framework.tensor([1, 2]), 1)
    with pytest.raises(RuntimeError, match="negative dimension"):
        ro.randperm(-1)
    with pytest.raises(RuntimeError, match="n cannot be greater than 2049 for Half type."):
        ro.randperm(3000, dtype=framework.float16)
    with pytest.raises(NotImplementedError, match="check_uniform_bounds"):
        ro.rand(2, dtype=framework.int64)
    with pytest.raises(NotImplementedError, match="normal_kernel_cpu"):
        ro.randn(2, dtype=framework.int64)
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0"):
        framework.empty(3).normal_(0, -1)
    with pytest.raises(RuntimeError, match="normal expects all elements of std >= 0.0"):
        ro.normal(framework.zeros(3), framework.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(TypeError):
        ro.normal(0.0, 1.0)
    with pytest.raises(RuntimeError, match=r"uniform_ expects to return a \[from, to\) range, but found from=2 > to=1"):
        framework.empty(3).uniform_(2, 1)
    with pytest.raises(RuntimeError, match="exponential_ expects lambda > 0.0"):
        framework.empty(3).exponential_(0)
    with pytest.raises(RuntimeError, match="dtype must be a floating point"):
        framework.empty(3, dtype=framework.int64).exponential_()
    with pytest.raises(RuntimeError, match=r"bernoulli_ expects p to be in \[0, 1\], but got p=1.5"):
        framework.empty(3).bernoulli_(1.5)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        framework.zeros(3, requires_grad=True).uniform_()
    with pytest.raises(ValueError, match="Overflow"):
        fr.manual_seed(2 ** 64)
    with pytest.raises(RuntimeError, match="Expected a CPUGeneratorImplState of size 5056"):
        fr.set_rng_state(framework.zeros(10, dtype=framework.uint8))
    with pytest.raises(TypeError, match="RNG state must be a torch.ByteTensor"):
        fr.set_rng_state(framework.zeros(5056))
    with pytest.raises(RuntimeError, match="Invalid mt19937 state"):
        fr.set_rng_state(framework.zeros(5056, dtype=framework.uint8))
    with pytest.raises(TypeError):
        ro.rand(3, generator=5)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        framework.zeros(3).expand(2, 3).uniform_()
