"""Concatenating views: ``cat`` of reshapes that merge dims at the cat dim reads the reshapes' inputs (one copy
per piece instead of two), with the same values; and what the pass must leave alone."""
import numpy as np
import pytest

pytest.importorskip("hypothesis")
from test_passes_random import Builder, run  # noqa: E402

import framework  # noqa: E402
from framework.jit.passes.cat_views import concatenate_views  # noqa: E402

RNG = np.random.default_rng(0)


def _heads(b, n=3, shape=(2, 4, 3, 5)):
    """``n`` attention-shaped gradients (batch, heads, seq, head_dim) as (batch, seq, heads * head_dim) views."""
    pieces = []
    for _ in range(n):
        x = b.input(RNG.standard_normal(shape).astype(np.float32))
        moved = b.op("permute", x, dims=(0, 2, 1, 3))
        pieces.append(b.op("reshape", moved, shape=(shape[0], shape[2], shape[1] * shape[3])))
    return pieces


def _rewrite(b, *outputs):
    graph = b.out(*outputs)
    before = run(graph, b.example)
    stats = concatenate_views(graph)
    graph.verify()
    after = run(graph, b.example)
    for x, y in zip(before, after):
        assert x.shape == y.shape and x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)  # values are only moved
    return graph, stats


def test_cat_of_merging_reshapes_concatenates_the_views_and_reshapes_back():
    b = Builder()
    joined = b.op("cat", *_heads(b), dim=2, sizes=(20, 20, 20))
    graph, stats = _rewrite(b, joined, b.op("sum", joined, dims=(0, 1), keepdim=True))
    assert stats == {"cats_of_views": 1}
    kernels = [n.kernel for n in graph.nodes]
    assert kernels.count("reshape") == 1 and kernels.count("permute") == 3
    (cat,) = [n for n in graph.nodes if n.kernel == "cat"]
    assert [v.node.kernel for v in cat.inputs] == ["permute"] * 3
    assert cat.attrs == {"dim": 2, "sizes": (4, 4, 4)} and cat.outputs[0].shape == (2, 3, 12, 5)
    assert graph.nodes[graph.nodes.index(cat) + 1].outputs[0].shape == (2, 3, 60)


def test_a_negative_cat_dim_and_pieces_of_different_lengths():
    b = Builder()
    short, long = _heads(b, 1, (2, 2, 3, 5))[0], _heads(b, 1, (2, 4, 3, 5))[0]
    graph, stats = _rewrite(b, b.op("cat", short, long, dim=-1, sizes=(10, 20)))
    assert stats == {"cats_of_views": 1}


@pytest.mark.parametrize("case", ["splits", "merges_elsewhere", "inner_dims_differ", "written_in_place", "plain"])
def test_what_the_pass_leaves_alone(case):
    b = Builder()
    if case == "splits":  # a reshape splitting the cat dim, not merging into it
        pieces = [b.op("reshape", b.input(RNG.standard_normal((2, 6)).astype(np.float32)), shape=(2, 2, 3))
                  for _ in range(2)]
        joined = b.op("cat", *pieces, dim=1, sizes=(2, 2))
    elif case == "merges_elsewhere":  # the merged dims are not at the cat dim
        joined = b.op("cat", *_heads(b, 2), dim=0, sizes=(2, 2))
    elif case == "inner_dims_differ":  # (4, 5) and (2, 10) both merge to 20, but interleave differently
        pieces = _heads(b, 1, (2, 4, 3, 5)) + _heads(b, 1, (2, 2, 3, 10))
        joined = b.op("cat", *pieces, dim=2, sizes=(20, 20))
    elif case == "written_in_place":  # a piece's source changes after its reshape copied it
        x = b.input(RNG.standard_normal((2, 4, 3, 5)).astype(np.float32))
        piece = b.op("reshape", b.op("permute", x, dims=(0, 2, 1, 3)), shape=(2, 3, 20))
        b.op("copy_into", x, b.input(RNG.standard_normal((2, 4, 3, 5)).astype(np.float32)), mutates=(0,))
        joined = b.op("cat", piece, *_heads(b, 1), dim=2, sizes=(20, 20))
    else:  # no reshapes at all
        joined = b.op("cat", *[b.input(RNG.standard_normal((2, 3)).astype(np.float32)) for _ in range(2)], dim=1,
                      sizes=(3, 3))
    graph, stats = _rewrite(b, joined)
    assert stats == {"cats_of_views": 0}


def _attention_step(compiled):
    """A seeded multi-head attention block's SGD step whose backward concatenates q, k and v gradients."""
    framework.manual_seed(0)
    qkv = framework.nn.Linear(16, 48)
    opt = framework.optim.SGD(qkv.parameters(), lr=0.1)
    x = framework.randn(2, 5, 16)

    def step():
        opt.zero_grad()
        q, k, v = qkv(x).split(16, dim=2)
        q, k, v = (t.view(2, 5, 4, 4).permute(0, 2, 1, 3) for t in (q, k, v))
        weights = (q @ k.transpose(-2, -1) * 0.5).softmax(dim=-1)
        out = (weights @ v).permute(0, 2, 1, 3).reshape(2, 5, 16)
        loss = (out * out).mean()
        loss.backward()
        opt.step()
        return loss
    return qkv, (framework.compile(step) if compiled else step)


def test_compiled_attention_step_equals_eager():
    eager_model, eager = _attention_step(False)
    model, compiled = _attention_step(True)
    for _ in range(3):
        np.testing.assert_allclose(compiled().item(), eager().item(), rtol=1e-6)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6, atol=1e-7)
    report = compiled.entries[-1].report
    assert [r.stats for r in report.passes if r.name == "cat_views"] == [{"cats_of_views": 1}]
