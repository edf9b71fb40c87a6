"""Constant folding on hand-built graphs: what folds, to which value, and what must not."""
import numpy as np
import pytest

pytest.importorskip("hypothesis")
from test_passes_random import Builder, assert_same, run  # noqa: E402

from framework.jit.passes.constant_fold import fold_constants  # noqa: E402


def test_folds_a_constant_chain_to_its_exact_value():
    b = Builder()
    x = b.input(np.ones(3, np.float32))
    c = b.op("exp", b.op("mul", b.const(np.array([0.0, 1.0, 2.0], np.float32)), b.const(np.float32(0.5))))
    g = b.out(b.op("add", x, c))
    expected = run(g, b.example)
    assert fold_constants(g) == {"nodes_folded": 2}
    assert [n.kernel for n in g.nodes] == ["add"]
    folded = g.constants[g.nodes[0].inputs[1]]
    np.testing.assert_array_equal(folded, np.exp(np.array([0.0, 0.5, 1.0], np.float32)))
    assert folded.dtype == np.float32
    assert_same(expected, run(g, b.example))


def test_keeps_nodes_reading_inputs_random_draws_and_graph_outputs():
    b = Builder()
    x = b.input(np.ones(3, np.float32))
    c = b.const(np.ones(3, np.float32))
    reads_input = b.op("add", x, c)
    draw = b.op("neg", c, op="rand_like")
    returned = b.op("exp", c)
    g = b.out(reads_input, draw, returned)
    assert fold_constants(g) == {"nodes_folded": 0}


def test_does_not_materialise_a_huge_broadcast_of_a_small_constant():
    b = Builder()
    x = b.input(np.ones((64, 64), np.float32))
    big = b.op("expand", b.const(np.float32(2.0)), shape=(64, 64))
    g = b.out(b.op("mul", x, big))
    assert fold_constants(g, max_elements=1000) == {"nodes_folded": 0}
    assert fold_constants(g) == {"nodes_folded": 1}  # 4096 elements is under the default cap
    assert g.constants[g.nodes[0].inputs[1]].flags.writeable


def test_keeps_nodes_on_constants_written_in_place():
    b = Builder()
    x = b.input(np.full(3, 5.0, np.float32))
    c = b.const(np.zeros(3, np.float32))
    b.op("copy_into", c, x, op="copy_", mutates=(0,))
    g = b.out(b.op("exp", c))
    expected = run(g, b.example)
    assert fold_constants(g) == {"nodes_folded": 0}
    assert_same(expected, run(g, b.example))


def test_failing_kernels_are_left_to_run_time():
    b = Builder()
    x = b.input(np.ones(2, np.int64))
    num = b.const(np.array([1, 2], np.int64))
    zero = b.const(np.array([1, 1], np.int64))
    node_value = b.op("div_floor", num, zero)
    b.graph.constants[zero][:] = 0  # integer division by zero raises in the kernel
    g = b.out(b.op("add", x, node_value))
    assert fold_constants(g) == {"nodes_folded": 0}
