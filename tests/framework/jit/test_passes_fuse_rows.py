"""Row fusion: elementwise ops around last-dim reductions become one ``fused_rows`` node computing what the
chain computed (against the reference interpreter, eager steps and torch), and what it must leave alone."""
import numpy as np
import pytest

pytest.importorskip("hypothesis")
from test_passes_random import Builder, assert_same, run  # noqa: E402

import framework  # noqa: E402
from framework.jit.passes.fuse_rows import fuse_rows  # noqa: E402
from kernels.cpu.fused_rows import fused_rows  # noqa: E402

RNG = np.random.default_rng(0)


def _array(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def _layer_norm(b, x, w, bias, eps=1e-5):
    """LayerNorm over the last dim as the functional layer records it."""
    mean = b.op("mean", x, dims=(len(x.shape) - 1,), keepdim=True)
    centred = b.op("sub", x, mean)
    var = b.op("mean", b.op("mul", centred, centred), dims=(len(x.shape) - 1,), keepdim=True)
    rstd = b.op("rsqrt", b.op("add", var, b.const(np.array(eps, x.dtype.name))))
    normed = b.op("mul", centred, rstd)
    return b.op("add", b.op("mul", normed, w), bias), normed, rstd


def _kernels(graph):
    return [n.kernel for n in graph.nodes]


def _fused(b, *outputs, kernels=("fused_rows",), rtol=1e-5, atol=1e-6):
    """Fuse the graph returning ``outputs``: it must become ``kernels`` and compute what it computed.

    Returns the graph and its results."""
    graph = b.out(*outputs)
    expected = run(graph, b.example)
    fuse_rows(graph)
    assert _kernels(graph) == list(kernels)
    got = run(graph, b.example)
    assert_same(expected, got, rtol=rtol, atol=atol)
    return graph, got


def test_layer_norm_forward_becomes_one_node():
    b = Builder()
    x, w, bias = (b.input(_array(*shape)) for shape in ((4, 5, 16), (16,), (16,)))
    y, normed, rstd = _layer_norm(b, x, w, bias)
    graph = b.out(y, normed, rstd)
    expected = run(graph, b.example)
    stats = fuse_rows(graph)
    assert _kernels(graph) == ["fused_rows"] and stats["groups"] == 1 and stats["ops_fused"] == 9
    (node,) = graph.nodes
    assert node.attrs["shape"] == (4, 5, 16) and len(node.outputs) == 3
    assert node.attrs["out_shapes"] == tuple(v.shape for v in node.outputs)
    assert_same(expected, run(graph, b.example), rtol=1e-5, atol=1e-6)


def test_softmax_gradient_with_a_broadcast_mask_and_per_row_inputs():
    b = Builder()
    grad, probs = b.input(_array(2, 3, 8, 8)), b.input(RNG.uniform(0, 1, (2, 3, 8, 8)).astype(np.float32))
    blocked = b.input(RNG.uniform(0, 1, (2, 3, 8, 1)) < 0.3)
    mask = b.const(np.tril(np.ones((8, 8), bool)))
    zero = b.const(np.array(0.0, np.float32))
    g = b.op("where", blocked, zero, grad)
    total = b.op("sum", b.op("mul", g, probs), dims=(3,), keepdim=True)
    ds = b.op("mul", b.op("where", mask, b.op("mul", probs, b.op("sub", g, total)), zero),
              b.const(np.array(0.25, np.float32)))
    _fused(b, ds)


def test_attention_weights_masked_softmax_and_the_fully_masked_row_guard():
    b = Builder()
    scores = _array(2, 3, 8, 8)
    scores[0, 1, 2, :] = np.nan  # a NaN row stays NaN
    s = b.input(scores)
    keep = np.tril(np.ones((8, 8), bool))
    keep[5] = False  # a row with every score masked: no distribution, zeros after the guard
    neg_inf, zero = b.const(np.array(-np.inf, np.float32)), b.const(np.array(0.0, np.float32))
    masked = b.op("where", b.const(keep), b.op("mul", s, b.const(np.array(0.3, np.float32))), neg_inf)
    probs = b.op("softmax", masked, dim=3)
    blocked = b.op("all", b.op("eq", masked, neg_inf), dims=(3,), keepdim=True)
    _, got = _fused(b, b.op("where", blocked, zero, probs), probs, blocked, atol=1e-7)
    assert (got[0][:, :, 5] == 0).all() and np.isnan(got[1][0, 1, 2]).all() and got[2][:, :, 5].all()


def test_a_lone_log_softmax_is_one_row_node_equal_to_the_kernel():
    from kernels.cpu import KERNELS
    logits = _array(6, 40) * 4
    logits[1] = -np.inf  # no finite logit: NaN, as the kernel
    logits[2, 3] = np.nan
    logits[4, :39] = -np.inf  # one certain class
    b = Builder()
    graph = b.out(b.op("log_softmax", b.input(logits), dim=1))
    assert fuse_rows(graph)["groups"] == 1 and _kernels(graph) == ["fused_rows"]
    expected = KERNELS["log_softmax"](logits, 1)
    (got,) = run(graph, b.example)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6, equal_nan=True)
    assert np.isnan(got[1]).all() and np.isnan(got[2]).all() and got[4, 39] == 0


@pytest.mark.parametrize("keepdim", [True, False])
def test_column_sums_of_a_layer_norm_gradient_join_its_row_node(keepdim):
    b = Builder()
    grad, normed, rstd = b.input(_array(4, 6, 16)), b.input(_array(4, 6, 16)), b.input(_array(4, 6, 1))
    weight = b.input(_array(16))
    scaled = b.op("mul", grad, weight)
    centred = b.op("sub", scaled, b.op("mean", scaled, dims=(2,), keepdim=True))
    dx = b.op("mul", centred, rstd)
    dw = b.op("sum", b.op("mul", grad, normed), dims=(0, 1), keepdim=keepdim)
    db = b.op("sum", grad, dims=(-3, -2), keepdim=keepdim)
    graph, _ = _fused(b, dx, dw, db, atol=1e-5)
    assert graph.nodes[0].attrs["out_shapes"][1:] == (((1, 1, 16),) * 2 if keepdim else ((16,),) * 2)


def test_a_bias_gradient_read_early_moves_down_and_joins_its_sibling_group():
    b = Builder()
    grad, rstd = b.input(_array(4, 6, 16)), b.input(_array(4, 6, 1))
    db = b.op("clone", b.op("reshape", b.op("sum", grad, dims=(0, 1), keepdim=True), shape=(16,)))  # as autograd
    scaled = b.op("mul", grad, rstd)
    dx = b.op("sub", scaled, b.op("mean", scaled, dims=(2,), keepdim=True))
    _fused(b, dx, db, kernels=("fused_rows", "reshape", "clone"), atol=1e-5)


def test_a_column_sum_of_an_expanded_row_value():
    b = Builder()
    x = b.input(_array(3, 5, 6))
    spread = b.op("expand", b.op("sum", x, dims=(2,), keepdim=True), shape=(3, 5, 6))
    _fused(b, b.op("sum", spread, dims=(0, 1), keepdim=False), b.op("sub", x, spread), atol=1e-5)


def test_nothing_in_a_group_reads_a_column_sum():
    b = Builder()
    x = b.input(_array(5, 8))
    total = b.op("sum", x, dims=(0,), keepdim=True)
    centred = b.op("sub", x, b.op("mean", x, dims=(1,), keepdim=True))
    # the lone sum stays; the row group reads it as a finished input
    graph, _ = _fused(b, b.op("mul", centred, total), kernels=("sum", "fused_rows"))
    assert total in graph.nodes[1].inputs


def test_an_expanded_row_value_read_outside_is_written_along_its_row():
    b = Builder()
    x = b.input(_array(3, 6))
    total = b.op("sum", x, dims=(1,), keepdim=True)
    spread = b.op("expand", total, shape=(3, 6))
    graph, _ = _fused(b, b.op("sub", x, spread), spread)
    assert graph.nodes[0].attrs["out_shapes"] == ((3, 6), (3, 6))


@pytest.mark.parametrize("case", ["no reduction", "other dim", "no keepdim", "rows of one", "integer"])
def test_groups_the_pass_leaves_alone(case):
    b = Builder()
    if case == "integer":
        x = b.input(RNG.integers(0, 9, (3, 4)))
    else:
        x = b.input(_array(3, 1) if case == "rows of one" else _array(2, 3, 4))
    doubled = b.op("add", x, x)
    if case == "no reduction":
        out = b.op("mul", doubled, x)
    elif case == "other dim":
        out = b.op("sub", doubled, b.op("sum", doubled, dims=(0,), keepdim=True))  # neither rows nor columns
    elif case == "no keepdim":
        out = b.op("sum", doubled, dims=(len(x.shape) - 1,), keepdim=False)
    else:
        out = b.op("sub", doubled, b.op("sum", doubled, dims=(len(x.shape) - 1,), keepdim=True))
    graph = b.out(out)
    assert fuse_rows(graph)["groups"] == 0 and "fused_rows" not in _kernels(graph)


def test_random_row_programs_match_the_interpreter():
    unary, binary = ["neg", "exp", "tanh", "abs"], ["add", "sub", "mul", "maximum"]
    fused = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        b = Builder()
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(2, 40)))
        full = [b.input(rng.standard_normal(shape).astype(np.float32) * 0.5)]
        column = b.input(rng.standard_normal(shape[-1:]).astype(np.float32))
        rows = [b.input(rng.standard_normal(shape[:-1] + (1,)).astype(np.float32))]
        for _ in range(int(rng.integers(4, 12))):
            pick = rng.integers(0, 4)
            if pick == 0:
                rows.append(b.op(str(rng.choice(["sum", "mean"])), full[rng.integers(len(full))],
                                 dims=(len(shape) - 1,), keepdim=True))
            elif pick == 1:
                full.append(b.op(str(rng.choice(unary)), full[rng.integers(len(full))]))
            else:
                pool = full + rows + [column]
                full.append(b.op(str(rng.choice(binary)), full[rng.integers(len(full))], pool[rng.integers(len(pool))]))
        graph = b.out(full[-1], rows[-1])
        expected = run(graph, b.example)
        fused += fuse_rows(graph)["groups"]
        assert_same(expected, run(graph, b.example), rtol=2e-5, atol=1e-5)
    assert fused >= 6


def test_kernel_reads_strided_broadcast_and_scalar_inputs_and_keeps_nan_rows():
    program = (("float64", "float64", "float64"),
               (("row_sum", (0,), (), "float64"), ("mul", (0, 1), (), "float64"),
                ("add", (4, 3), (), "float64"), ("mul", (5, 2), (), "float64")), (6, 3))
    base = _array(7, 5, dtype=np.float64)
    x = base.T  # (5, 7), not contiguous
    scale, factor = _array(7, dtype=np.float64), np.float64(3.0)
    x_nan = x.copy()
    x_nan[2, 4] = np.nan
    for data in (x, x_nan):
        out, total = fused_rows(data, scale, factor, program=program, shape=(5, 7), out_shapes=((5, 7), (5, 1)))
        expected_total = data.sum(1, keepdims=True)
        np.testing.assert_allclose(total, expected_total, rtol=1e-5, equal_nan=True)
        np.testing.assert_allclose(out, (data * scale + expected_total) * factor, rtol=1e-5, equal_nan=True)
    assert np.isnan(out[2]).all() and not np.isnan(out[:2]).any()
    empty = fused_rows(np.zeros((0, 7)), scale, factor, program=program, shape=(0, 7),
                       out_shapes=((0, 7), (0, 1)))
    assert empty[0].shape == (0, 7) and empty[1].shape == (0, 1)


def _norm_step(lib):
    """(model, step) of a Linear-LayerNorm-GELU-Linear classifier with AdamW, weights and data from one seed."""
    rng = np.random.default_rng(1)
    model = lib.nn.Sequential(lib.nn.Linear(12, 16), lib.nn.LayerNorm(16), lib.nn.GELU(), lib.nn.Linear(16, 4))
    with lib.no_grad():
        for p in model.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.5))
    opt = lib.optim.AdamW(model.parameters(), lr=1e-2)
    x = lib.tensor(rng.standard_normal((6, 5, 12)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 4, (30,)))

    def step():
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(x).reshape(30, 4), y)
        loss.backward()
        opt.step()
        return loss
    return model, step


def test_layer_norm_training_step_fuses_both_directions_and_equals_eager():
    model, step = _norm_step(framework)
    compiled_model, compiled = _norm_step(framework)
    compiled = framework.compile(compiled)
    for _ in range(4):
        np.testing.assert_allclose(compiled().item(), step().item(), rtol=1e-6)
    for p, q in zip(model.parameters(), compiled_model.parameters()):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-5, atol=1e-6)
    kernels = [n.kernel for n in compiled.entries[-1].graph.nodes]
    assert kernels.count("fused_rows") >= 2  # the forward LayerNorm and its backward


def test_layer_norm_training_step_equals_torch():
    torch = pytest.importorskip("torch")
    ours_model, ours = _norm_step(framework)
    ours = framework.compile(ours)
    theirs_model, theirs = _norm_step(torch)
    for _ in range(3):
        np.testing.assert_allclose(ours().item(), theirs().item(), rtol=1e-5)
    for p, q in zip(theirs_model.parameters(), ours_model.parameters()):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_a_traced_layer_norm_saves_and_loads_with_its_row_node(tmp_path):
    framework.manual_seed(0)
    model = framework.nn.Sequential(framework.nn.Linear(8, 16), framework.nn.LayerNorm(16)).eval()
    x = framework.randn(3, 4, 8)
    with framework.no_grad():
        traced = framework.jit.trace(model, (x,))
        expected = model(x).numpy()
    assert "fused_rows" in [n.kernel for n in traced.graph.nodes]
    traced.save(tmp_path / "norm.graph")
    loaded = framework.jit.load(tmp_path / "norm.graph")
    np.testing.assert_allclose(loaded(x).numpy(), expected, rtol=1e-5, atol=1e-6)
