"""The pipeline on traced functions: results equal eager, the report says what each pass did."""
import numpy as np
import pytest

import framework
from framework.jit.interpreter import interpret
from framework.jit.passes import DEFAULT_PIPELINE, optimize


def _traced_graph(fn, *args):
    traced = framework.jit.trace(fn, args, optimize=False)
    return traced.graph


def _mlp_block(x, w, b):
    h = (x @ w + b) * 1.0
    h = framework.tanh(h) + framework.tanh(h)  # a common subexpression
    return (h.t().t() - 0.0).sum(dim=1) / 1


def test_traced_function_matches_eager_after_the_pipeline():
    x, w, b = framework.randn(8, 16), framework.randn(16, 4), framework.randn(4)
    graph = _traced_graph(_mlp_block, x, w, b)
    arrays = [t._data for t in (x, w, b)][:len(graph.inputs)]
    before = interpret(graph, arrays)
    report = optimize(graph)
    after = interpret(graph, arrays)
    eager = _mlp_block(x, w, b).numpy()
    # the row sums cancel (terms near +-2, results near 0): compare at 1e-6 of the terms' size
    np.testing.assert_allclose(after[0], before[0], rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(after[0], eager, rtol=1e-6, atol=1e-5)
    assert report.nodes_after < report.nodes_before
    by_name = {r.name: r for r in report.passes}
    assert by_name["simplify"].stats["rewrites"] >= 3  # * 1.0, t().t(), - 0.0, / 1
    assert by_name["cse"].stats["nodes_merged"] >= 1
    text = str(report)
    for name in ("constant_fold", "simplify", "cse", "dce", "memory_plan"):
        assert name in text


def test_default_pipeline_order_and_unknown_passes():
    assert DEFAULT_PIPELINE == ("constant_fold", "simplify", "cat_views", "cse", "dce", "class_backward",
                                "cross_entropy", "share_terms", "fuse_rows", "fuse", "dce", "elide_copies",
                                "schedule_updates", "memory_plan")
    graph = _traced_graph(lambda x: x * 2, framework.ones(3))
    with pytest.raises(ValueError, match="unknown pass 'nope'"):
        optimize(graph, passes=("nope",))


def test_a_pass_that_drops_an_effect_is_caught():
    x, y = framework.zeros(3), framework.ones(3)

    def step(x, y):
        x.copy_(y * 2)
        return y + 1

    graph = _traced_graph(step, x, y)

    def bad(g):
        g.nodes = [n for n in g.nodes if not n.mutates]
        return {}

    with pytest.raises(RuntimeError, match="dropped a node with effects"):
        optimize(graph, passes=(bad,))


def test_a_pass_that_swaps_two_writes_to_one_buffer_is_caught_and_disjoint_writes_may_swap():
    def step(x, y, z):
        a, b, c = y * 2, y + 1, y - 1
        x.copy_(a)
        x.copy_(b)  # the same buffer: order decides the result
        z.copy_(c)  # another buffer: may run first
        return y

    def swap(first, second):
        def run(g):
            writes = [n for n in g.nodes if n.mutates]
            i, j = g.nodes.index(writes[first]), g.nodes.index(writes[second])
            g.nodes[i], g.nodes[j] = g.nodes[j], g.nodes[i]
            return {}
        return run

    args = framework.zeros(3), framework.ones(3), framework.zeros(3)
    with pytest.raises(RuntimeError, match="reordered two nodes with effects on the same memory"):
        optimize(_traced_graph(step, *args), passes=(swap(0, 1),))
    optimize(_traced_graph(step, *args), passes=(swap(1, 2),))
