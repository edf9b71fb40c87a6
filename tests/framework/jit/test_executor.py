"""The executor against the reference interpreter, on traced and hand-built graphs."""
import numpy as np
from hypothesis import given, settings, strategies as st

import framework
from framework import _dtype
from framework._device import cpu
from framework.jit.executor import Executor
from framework.jit.interpreter import interpret
from framework.jit.ir import Graph


def test_hand_built_graph_matches_interpreter_and_frees_dead_values():
    g = Graph("g")
    x = g.add_input((4,), _dtype.float32, cpu, name="x")
    two = g.add_constant(np.array(2.0, np.float32), _dtype.float32, cpu)
    a = g.add_node("mul", [x, two], {}, [((4,), _dtype.float32, cpu)]).outputs[0]
    b = g.add_node("exp", [a], {}, [((4,), _dtype.float32, cpu)]).outputs[0]
    c = g.add_node("add", [b, x], {}, [((4,), _dtype.float32, cpu)]).outputs[0]
    g.outputs = [c]
    ex = Executor(g)
    # a dies after exp, b after add
    assert [len(step[4]) for step in ex._steps] == [0, 1, 1]
    data = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(ex.run([data])[0], interpret(g, [data])[0])


def test_multi_output_and_single_piece_tuple_nodes():
    def f(x):
        a, b = x.split(2)
        (c,) = x.unsqueeze(0).unbind(0)
        return a * b + c[:2]

    x = framework.arange(4.0)
    traced = framework.jit.trace(f, (x,), optimize=False)
    y = framework.tensor([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(traced(y).numpy(), f(y).numpy())


_UNARY = ["relu", "tanh", "sigmoid", "exp", "neg", "abs"]


@settings(max_examples=25, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(_UNARY + ["add", "mul", "sum0"]), st.integers(0, 3)),
                    min_size=1, max_size=8),
       seed=st.integers(0, 2 ** 16))
def test_random_programs_executor_equals_interpreter_and_eager(ops, seed):
    def program(x, y):
        vals = [x, y]
        for op, k in ops:
            a = vals[k % len(vals)]
            if op == "add":
                vals.append(a + vals[-1])
            elif op == "mul":
                vals.append(a * 0.5)
            elif op == "sum0":
                vals.append(a.sum(0, keepdim=True) + a)
            else:
                vals.append(getattr(a, op)())
        return vals[-1]

    rng = np.random.default_rng(seed)
    x, y = (framework.tensor(rng.standard_normal((3, 4)).astype(np.float32)) for _ in range(2))
    traced = framework.jit.trace(program, (x, y), optimize=False)
    x2, y2 = (framework.tensor(rng.standard_normal((3, 4)).astype(np.float32)) for _ in range(2))
    expected = program(x2, y2).numpy()
    np.testing.assert_allclose(traced(x2, y2).numpy(), expected, rtol=1e-6, atol=1e-6)
    reference = interpret(traced.graph, [x2._data, y2._data])[0]
    np.testing.assert_allclose(reference, expected, rtol=1e-6, atol=1e-6)

