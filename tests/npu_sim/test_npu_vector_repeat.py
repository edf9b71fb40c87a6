"""The vector unit's repeat form (strides, lane mask), brcb, and the batched img2col convolution."""
import numpy as np
import pytest

from npu_sim import Machine, RangeError, ascend910
from npu_sim.kernels.conv import conv_programs

torch = pytest.importorskip("torch")


def _ub_program(arrays, dtype="fp32"):
    """A program with ``arrays`` loaded into UB tiles (flag-synchronised for V), plus their GM tensors."""
    m = Machine(ascend910())
    p = m.program()
    tiles, gms = [], []
    for a in arrays:
        g = m.tensor(a, dtype)
        t = p.alloc_tile("UB", *np.atleast_2d(a).shape, dtype)
        p.copy_gm_to_ubuf(t, g)
        tiles.append(t)
        gms.append(g)
    p.set_flag("MTE2", "V")
    p.wait_flag("MTE2", "V")
    return m, p, tiles, gms


def _write_back(m, p, tile, g):
    p.set_flag("V", "MTE3")
    p.wait_flag("V", "MTE3")
    p.copy_ubuf_to_gm(g, tile)
    return m.run(p)


def test_block_stride_zero_broadcasts_a_per_row_value():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 64)).astype(np.float32)
    v = rng.standard_normal((1, 8)).astype(np.float32)
    m, p, (tx, tv), (gx, _) = _ub_program([x, v])
    b = p.alloc_tile("UB", 8, 8, "fp32")
    p.brcb(b, tv, repeat=1)                      # 8 values -> 8 blocks of 32 bytes
    p.vector_repeat("vsub", tx, tx, b, repeat=6, strides=[(1, 8), (1, 8), (0, 1)])
    r = _write_back(m, p, tx, gx)
    np.testing.assert_array_equal(m.read(gx), x - v[0, :6, None])
    assert not r.hazards


def test_mask_leaves_inactive_lanes_and_reductions_pack_one_value_per_repeat():
    x = np.arange(4 * 128, dtype=np.float16).reshape(4, 128) / 64
    m, p, (tx,), (gx,) = _ub_program([x], "fp16")
    out = p.alloc_tile("UB", 1, 16, "fp16")
    p.vector("vector_dup", out, scalar=0.0)
    p.vector_repeat("vcmax", out, tx, repeat=4, mask=100)
    p.vector_repeat("vmuls", tx, tx, repeat=4, mask=3, scalar=-1.0)
    res = m.empty(1, 16, "fp16")
    p.set_flag("V", "MTE3")
    p.wait_flag("V", "MTE3")
    p.copy_ubuf_to_gm(res, out)
    p.copy_ubuf_to_gm(gx, tx)
    m.run(p)
    np.testing.assert_array_equal(m.read(res)[0, :4], x[:, :100].max(1))
    want = x.copy()
    want[:, :3] *= -1
    np.testing.assert_array_equal(m.read(gx), want)


def test_repeat_form_timing_head_plus_repeats():
    cfg = ascend910()
    m = Machine(cfg, numerics=False)
    p = m.program()
    a = p.alloc_tile("UB", 300, 64, "fp32")
    b = p.alloc_tile("UB", 40, 8, "fp32")
    p.vector_repeat("vadd", a, a, a, repeat=300)      # binary: 2 cycles/repeat, split at 255 repeats
    p.vector_repeat("vexp", a, a, repeat=10)          # unary: 1 cycle/repeat
    p.brcb(b, a, repeat=5)                            # brcb: unary class
    r = m.run(p, trace=True, launch=False)
    spans = {n: e - s for _, _, n, s, e in r.trace}
    assert spans["vadd"] == 2 * cfg.vector_head + 300 * 2
    assert spans["vexp"] == cfg.vector_head + 10
    assert spans["brcb"] == cfg.vector_head + 5


def test_repeat_operands_are_range_checked():
    m = Machine(ascend910())
    p = m.program()
    a = p.alloc_tile("UB", 2, 64, "fp32")
    with pytest.raises(RangeError, match="vadd"):
        p.vector_repeat("vadd", a, a, a, repeat=3)
    with pytest.raises(ValueError, match="mask"):
        p.vector_repeat("vabs", a, a, repeat=1, mask=65)
    with pytest.raises(RangeError, match="brcb"):
        p.brcb(a, a, repeat=3)


@pytest.mark.parametrize("groups, stride, pad, dilation", [(1, (1, 1), ((1, 1), (1, 1)), (1, 1)),
                                                           (2, (2, 1), ((0, 1), (2, 0)), (1, 2)),
                                                           (8, (1, 1), ((1, 1), (1, 1)), (1, 1))])
def test_batched_grouped_conv_with_img2col_in_mte1(groups, stride, pad, dilation):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 8, 9, 7)).astype(np.float16)
    w = rng.standard_normal((8, 8 // groups, 3, 3)).astype(np.float16)
    m = Machine(ascend910())
    progs, read = conv_programs(m, x, w, stride, pad, dilation, groups, "fp32", cores=3)
    r = m.run(progs)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), pad[0], pad[1]))
    ref = torch.nn.functional.conv2d(torch.tensor(xp), torch.tensor(w.astype(np.float64)), stride=stride,
                                     dilation=dilation, groups=groups).numpy()
    np.testing.assert_allclose(read(), ref, rtol=1e-5, atol=1e-5)
    assert not r.hazards


def test_img2col_expands_in_mte1_not_in_gm_traffic():
    x = np.ones((1, 16, 16, 16), np.float16)
    w = np.ones((16, 16, 3, 3), np.float16)
    m = Machine(ascend910())
    progs, _ = conv_programs(m, x, w, (1, 1), ((1, 1), (1, 1)), out_dtype="fp32", cores=1,
                             tiling=(256, 16, 144, 48))
    r = m.run(progs)
    fmap, weights = 16 * 16 * 16 * 2, 16 * 144 * 2
    assert r.bytes["GM->L1"] <= 1.1 * (fmap + weights)     # each map and weight block read once
    assert r.bytes["L1->L0A"] == 9 * fmap                    # the 3x3 expansion happens on MTE1
