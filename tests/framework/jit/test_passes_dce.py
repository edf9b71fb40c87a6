"""Dead-code elimination on hand-built graphs: exactly the dead nodes and constants go."""
import numpy as np
import pytest

pytest.importorskip("hypothesis")
from test_passes_random import Builder, assert_same, run  # noqa: E402

from framework.jit.passes.dce import eliminate_dead_code  # noqa: E402


def test_drops_unused_chain_and_constants_keeps_used():
    b = Builder()
    x = b.input(np.arange(4.0, dtype=np.float32))
    used = b.op("exp", x)
    b.op("mul", b.op("neg", x), b.const(np.float32(3.0)))  # read by nothing
    g = b.out(b.op("tanh", used))
    expected = run(g, b.example)
    stats = eliminate_dead_code(g)
    assert stats == {"nodes_removed": 2, "constants_removed": 1}
    assert [n.kernel for n in g.nodes] == ["exp", "tanh"]
    assert not g.constants
    assert_same(expected, run(g, b.example))


def test_keeps_effects_and_what_they_read():
    b = Builder()
    x, y = b.input(np.zeros(3, np.float32)), b.input(np.ones(3, np.float32))
    source = b.op("exp", y)
    b.op("copy_into", x, source, op="copy_", mutates=(0,))
    g = b.out(y)
    eliminate_dead_code(g)
    assert [n.kernel for n in g.nodes] == ["exp", "copy_into"]


def test_keeps_unused_random_draws():
    b = Builder()
    x = b.input(np.ones(3, np.float32))
    b.op("neg", x, op="bernoulli")  # named as a draw: dropping it would shift the random stream
    g = b.out(x)
    eliminate_dead_code(g)
    assert [n.op for n in g.nodes] == ["bernoulli"]


def test_drops_nodes_with_no_outputs_and_no_effects():
    b = Builder()
    x = b.input(np.ones(3, np.float32))
    g = b.out(x)
    g.add_node("noop", [x], {}, [])
    eliminate_dead_code(g)
    assert g.nodes == []
