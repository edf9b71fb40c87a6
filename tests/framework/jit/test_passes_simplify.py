"""Algebraic simplification: each exact rewrite, and the rewrites that must not happen."""
import numpy as np
import pytest

pytest.importorskip("hypothesis")
from test_passes_random import Builder, assert_same, run  # noqa: E402

from framework.jit.passes.simplify import simplify  # noqa: E402

SIGNED = np.array([-0.0, 0.0, -1.5, np.inf, np.nan], np.float32)


def _simplified(kernel, const, swap=False, x=SIGNED):
    b = Builder()
    xv = b.input(x, name="x")
    c = b.const(const)
    y = b.op(kernel, *((c, xv) if swap else (xv, c)))
    g = b.out(b.op("neg", y))
    expected = run(g, b.example)
    stats = simplify(g)
    got = run(g, b.example)
    assert_same(expected, got)
    assert np.array_equal(np.signbit(expected[0]), np.signbit(got[0]))  # -0.0 stays -0.0
    return g, stats, xv


@pytest.mark.parametrize("kernel, const, swap", [
    ("mul", np.float32(1.0), False), ("mul", np.float32(1.0), True), ("div", np.float32(1.0), False),
    ("sub", np.float32(0.0), False), ("add", np.float32(-0.0), False), ("add", np.float32(-0.0), True),
    ("mul", np.ones(5, np.float32), False), ("mul", np.float64(1.0), False),
])
def test_identities_are_removed_and_keep_signed_zeros(kernel, const, swap):
    g, stats, x = _simplified(kernel, const, swap)
    assert stats["rewrites"] == 1
    assert [n.kernel for n in g.nodes] == ["neg"] and g.nodes[0].inputs == [x]


@pytest.mark.parametrize("kernel, const, swap", [
    ("add", np.float32(0.0), False),  # -0.0 + 0.0 is +0.0
    ("sub", np.float32(-0.0), False),  # -0.0 - (-0.0) is +0.0
    ("mul", np.float32(0.0), False),  # inf * 0 is nan
    ("div", np.float32(1.0), True),  # 1 / x
    ("sub", np.float32(0.0), True),  # 0 - x
    ("mul", np.ones((2, 5), np.float32), False),  # broadcasts x to a bigger shape
])
def test_inexact_or_shape_changing_rewrites_are_not_made(kernel, const, swap):
    g, stats, _ = _simplified(kernel, const, swap)
    assert stats == {"rewrites": 0} and len(g.nodes) == 2


def test_integer_zero_addition_is_removed_but_a_dtype_change_is_kept():
    g, stats, _ = _simplified("add", np.int64(0), x=np.arange(3, dtype=np.int64))
    assert stats["rewrites"] == 1
    b = Builder()
    x = b.input(np.arange(3, dtype=np.int32))
    y = b.op("mul", x, b.const(np.float32(1.0)))  # int32 * float32 -> float: not x
    g = b.out(y)
    assert simplify(g)["rewrites"] == 0


def test_x_minus_x_is_not_zero():
    b = Builder()
    x = b.input(SIGNED)
    g = b.out(b.op("sub", x, x))
    assert simplify(g)["rewrites"] == 0


def test_double_negation_and_view_rewrites():
    b = Builder()
    x = b.input(np.arange(6, dtype=np.float32).reshape(2, 3))
    nn = b.op("neg", b.op("neg", x))
    same = b.op("expand", b.op("reshape", nn, shape=(2, 3)), shape=(2, 3))
    back = b.op("permute", b.op("permute", same, dims=(1, 0)), dims=(1, 0))
    g = b.out(b.op("exp", back))
    expected = run(g, b.example)
    stats = simplify(g)
    assert stats["double_negation"] == 1 and stats["permute_of_permute"] == 1
    assert stats["same_shape_reshape"] == 1 and stats["same_shape_expand"] == 1
    assert [n.kernel for n in g.nodes] == ["exp"] and g.nodes[0].inputs == [x]
    assert_same(expected, run(g, b.example))


def test_permutes_compose_into_one():
    b = Builder()
    x = b.input(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    p = b.op("permute", b.op("permute", x, dims=(1, 2, 0)), dims=(2, 0, 1))
    q = b.op("permute", b.op("permute", x, dims=(1, 0, 2)), dims=(0, 2, 1))
    g = b.out(b.op("exp", p), b.op("exp", q))
    expected = run(g, b.example)
    simplify(g)
    permutes = [n for n in g.nodes if n.kernel == "permute"]
    assert len(permutes) == 1 and permutes[0].attrs["dims"] == (1, 2, 0) and permutes[0].inputs == [x]
    assert_same(expected, run(g, b.example))


def test_no_forwarding_across_in_place_writes():
    b = Builder()
    x, z = b.input(np.ones(3, np.float32)), b.input(np.zeros(3, np.float32))
    y = b.op("mul", x, b.const(np.float32(1.0)))
    b.op("copy_into", x, z, op="copy_", mutates=(0,))  # y must keep x's old values
    g = b.out(b.op("exp", y))
    expected = run(g, b.example)
    assert simplify(g)["rewrites"] == 0
    assert_same(expected, run(g, b.example))


def test_an_output_never_becomes_an_input():
    b = Builder()
    x = b.input(np.ones(3, np.float32))
    g = b.out(b.op("mul", x, b.const(np.float32(1.0))))
    assert simplify(g)["rewrites"] == 0


def test_clone_of_a_fresh_buffer_goes_unless_a_view_needs_its_layout():
    b = Builder()
    x = b.input(np.ones((2, 3), np.float32))
    e = b.op("exp", x)
    g = b.out(b.op("neg", b.op("clone", e)))
    assert simplify(g)["clone_of_fresh"] == 1
    b = Builder()
    x = b.input(np.ones((3, 2), np.float32))
    e = b.op("exp", b.op("permute", x, dims=(1, 0)))  # column-major result
    g = b.out(b.op("neg", b.op("view", b.op("clone", e), shape=(6,))))
    assert simplify(g)["rewrites"] == 0
