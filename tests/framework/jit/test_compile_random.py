"""Random training steps: eager against ``framework.compile`` with the full pipeline (passes, fusion, memory plan).

Hypothesis draws a straight-line program over square float32 tensors (an argument and two parameters) from
elementwise, reduction, matmul and view ops, sums a few of its values into a loss, and runs backward and an SGD
step. Three calls from the same start (a trace, a re-trace once momentum exists, a replay) must give the same
losses, gradients and parameters to 1e-6 relative, with an absolute floor of 1e-6 times the largest value of each
compared set (sums of mixed signs cancel). ``test_passes_random.py`` checks the passes against the reference
interpreter on hand-built graphs; this file checks capture, autograd capture, passes and executor together.
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import framework  # noqa: E402

N = 4  # every value is (N, N) or broadcasts to it, so any op can follow any other


def _unary(name):
    return {
        "tanh": lambda a: a.tanh(), "sigmoid": lambda a: a.sigmoid(), "relu": lambda a: a.relu(),
        "sin": lambda a: a.sin(), "neg": lambda a: -a, "abs_sqrt": lambda a: (a.abs() + 1).sqrt(),
        "exp_tanh": lambda a: a.tanh().exp(), "square": lambda a: a * a, "scale": lambda a: a * 0.5 + 1.0,
        "gelu": lambda a: framework.nn.functional.gelu(a),
        # reductions, kept 2-D so they broadcast back
        "sum_rows": lambda a: a.sum(0, keepdim=True), "mean_cols": lambda a: a.mean(1, keepdim=True),
        "amax_cols": lambda a: a.amax(1, keepdim=True), "softmax": lambda a: a.softmax(-1),
        # views and layout
        "t": lambda a: a.expand(N, N).t(), "roll": lambda a: framework.cat([a.expand(N, N)[1:], a.expand(N, N)[:1]]),
        "reshape": lambda a: a.expand(N, N).reshape(2, 2 * N).flip(1).reshape(N, N),
    }[name]


def _binary(name):
    return {
        "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / (1.0 + b * b), "maximum": lambda a, b: framework.maximum(a, b),
        "matmul": lambda a, b: a.expand(N, N) @ b.expand(N, N), "where": lambda a, b: framework.where(a > b, a, b),
    }[name]


UNARY = ["tanh", "sigmoid", "relu", "sin", "neg", "abs_sqrt", "exp_tanh", "square", "scale", "gelu", "sum_rows",
         "mean_cols", "amax_cols", "softmax", "t", "roll", "reshape"]
BINARY = ["add", "sub", "mul", "div", "maximum", "matmul", "where"]


@st.composite
def programs(draw):
    """A list of (op name, operand indices) over a pool that starts as [x, w1, w2] and grows by one per op."""
    steps = []
    for k in range(draw(st.integers(2, 8))):
        pool = 3 + k
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(UNARY)), (draw(st.integers(0, pool - 1)),)))
        else:
            steps.append((draw(st.sampled_from(BINARY)),
                          (draw(st.integers(0, pool - 1)), draw(st.integers(0, pool - 1)))))
    return steps


def _run(program, seed, compiled):
    rng = np.random.default_rng(seed)
    w = [framework.nn.Parameter(framework.tensor(rng.standard_normal((N, N)).astype(np.float32))) for _ in range(2)]
    opt = framework.optim.SGD(w, lr=0.1, momentum=0.9)
    xs = [framework.tensor(rng.standard_normal((N, N)).astype(np.float32)) for _ in range(3)]

    def step(x):
        opt.zero_grad()
        pool = [x, w[0], w[1]]
        for name, args in program:
            ops = _unary(name) if len(args) == 1 else _binary(name)
            pool.append(ops(*(pool[i] for i in args)))
        # every parameter reaches the loss, whatever the program did
        loss = sum((v * (k + 1)).mean() for k, v in enumerate(pool[-3:])) + (w[0] * w[1]).mean()
        loss.backward()
        opt.step()
        return loss

    run = framework.compile(step, options={"worth_check": False}) if compiled else step
    out = []
    for x in xs:
        loss = run(x)
        out.append([loss.detach().numpy().copy()] + [p.grad.numpy().copy() for p in w]
                   + [p.detach().numpy().copy() for p in w])
    return out, run


def _close(got, expected, what):
    scale = max(float(np.abs(b).max(initial=0)) for b in expected)
    names = ["loss", "w1.grad", "w2.grad", "w1", "w2"]
    for name, a, b in zip(names, got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * scale, err_msg=f"{what}: {name}")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2 ** 16))
def test_random_training_step_compiled_equals_eager(program, seed):
    expected, _ = _run(program, seed, compiled=False)
    got, run = _run(program, seed, compiled=True)
    assert not run.breaks, run.breaks
    assert len(run.entries) == 2 and not any(entry.eager for entry in run.entries)
    for call, (a, b) in enumerate(zip(got, expected)):
        _close(a, b, f"call {call} of {program}")


def test_a_program_with_every_op_kind():
    program = [("matmul", (0, 1)), ("softmax", (3,)), ("t", (4,)), ("mul", (5, 2)), ("sum_rows", (6,)),
               ("add", (7, 3)), ("reshape", (8,)), ("gelu", (9,)), ("where", (10, 0)), ("roll", (11,))]
    expected, _ = _run(program, 1, compiled=False)
    got, run = _run(program, 1, compiled=True)
    assert len(run.entries) == 2 and not run.breaks
    assert any(node.kernel == "fused_elementwise" for node in run.graph.nodes)
    for call, (a, b) in enumerate(zip(got, expected)):
        _close(a, b, f"call {call}")
