"""Entry points, guards and re-tracing, graph breaks, the context switch, and the full pass pipeline."""
import warnings

import numpy as np
import pytest

import framework
import framework.nn as nn


def _f(x, y):
    return (x * y + 1.0).tanh()


def test_compile_as_call_and_decorators():
    x, y = framework.randn(3), framework.randn(3)
    expected = _f(x, y).numpy()

    @framework.compile
    def bare(x, y):
        return _f(x, y)

    @framework.compile(fullgraph=True, mode="max-autotune")
    def configured(x, y):
        return _f(x, y)

    @framework.jit
    def decorated(x, y):
        return _f(x, y)

    for fn in (framework.compile(_f), bare, configured, decorated):
        for _ in range(2):
            np.testing.assert_allclose(fn(x, y).numpy(), expected, rtol=1e-6)
    assert framework.compile(_f, disable=True) is _f


def test_compile_refuses_what_it_cannot_honour():
    with pytest.raises(NotImplementedError, match="dynamic=True"):
        framework.compile(_f, dynamic=True)
    with pytest.raises(NotImplementedError, match="backend"):
        framework.compile(_f, backend=lambda gm, inputs: gm)
    with pytest.raises(ValueError, match="unknown backend 'tvm'"):
        framework.compile(_f, backend="tvm")
    with pytest.raises(RuntimeError, match="Unrecognized mode"):
        framework.compile(_f, mode="fastest")
    with pytest.raises(RuntimeError, match="Either mode or options"):
        framework.compile(_f, mode="default", options={"optimize": False})
    with pytest.raises(NotImplementedError, match="'triton.cudagraphs'"):
        framework.compile(_f, options={"triton.cudagraphs": True})


def test_new_shape_retraces_and_names_the_guard():
    compiled = framework.compile(_f)
    compiled(framework.randn(32, 4), framework.randn(32, 4))
    out = compiled(framework.randn(128, 4), framework.randn(128, 4))
    assert out.shape == (128, 4) and len(compiled.entries) == 2
    assert compiled.retrace_reasons == ["input 0 shape (128, 4) != traced (32, 4)"]


def test_the_entry_that_replayed_last_is_checked_first():
    compiled = framework.compile(_f)
    small, large = framework.randn(4, 2), framework.randn(8, 2)
    compiled(small, small)
    compiled(large, large)
    checked = []
    for i, entry in enumerate(compiled.entries):
        check = entry.guards.check
        entry.guards.check = lambda call, check=check, i=i: checked.append(i) or check(call)
    np.testing.assert_allclose(compiled(large, large).numpy(), _f(large, large).numpy(), rtol=1e-6)
    np.testing.assert_allclose(compiled(large, large).numpy(), _f(large, large).numpy(), rtol=1e-6)
    assert checked == [0, 1, 1]  # the first call looks in order; then the entry that matched comes first
    checked.clear()
    np.testing.assert_allclose(compiled(small, small).numpy(), _f(small, small).numpy(), rtol=1e-6)
    assert checked == [1, 0] and len(compiled.entries) == 2


def test_guards_on_python_values_grad_mode_and_training():
    def scaled(x, k):
        return x * k

    compiled = framework.compile(scaled)
    x = framework.ones(2)
    assert compiled(x, 2.0).numpy().tolist() == [2.0, 2.0]
    assert compiled(x, 3.0).numpy().tolist() == [3.0, 3.0]
    assert compiled.retrace_reasons == ["input 1 == 3.0 != traced 2.0"]

    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    cm = framework.compile(model)
    with framework.no_grad():
        model.eval()
        cm(framework.ones(1, 3))
        model.train()
        cm(framework.ones(1, 3))
    assert "training changed" in cm._compiled.retrace_reasons[0]
    cm.eval()
    with pytest.warns(framework.jit.compile.GraphBreakWarning, match="requires grad"):
        cm(framework.ones(1, 3))
    assert "grad mode" in cm._compiled.retrace_reasons[-1]


def test_cache_size_limit_warns_with_reason_then_runs_eagerly():
    compiled = framework.compile(_f, options={"cache_size_limit": 2})
    for n in (1, 2):
        compiled(framework.ones(n), framework.ones(n))
    with pytest.warns(framework.jit.GuardWarning, match=r"input 0 shape \(3,\) != traced \(2,\)"):
        out = compiled(framework.ones(3), framework.ones(3))
    np.testing.assert_allclose(out.numpy(), _f(framework.ones(3), framework.ones(3)).numpy())
    assert len(compiled.entries) == 2


@pytest.mark.parametrize("breaker,what", [
    (lambda y: y.sum().item(), "item()"),
    (lambda y: y.tolist(), "tolist()"),
    (lambda y: bool(y.sum() > 0), "bool(tensor)"),
    (lambda y: y.numpy(), "numpy()"),
    (lambda y: repr(y), "printing"),
])
def test_graph_breaks_default_runs_eagerly_and_fullgraph_raises(breaker, what):
    def f(x):
        y = x * 2
        breaker(y)
        return y + 1

    x = framework.ones(3)
    with pytest.warns(framework.jit.compile.GraphBreakWarning, match="test_compile.py:"):
        out = framework.compile(f)(x)
    np.testing.assert_array_equal(out.numpy(), [3.0, 3.0, 3.0])
    compiled = framework.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled(x)
    assert compiled.entries[0].eager and what in compiled.breaks[0][0]
    np.testing.assert_array_equal(compiled(framework.full((3,), 2.0)).numpy(), [5.0, 5.0, 5.0])
    with pytest.raises(framework.jit.GraphBreakError, match=r"test_compile.py:\d+: .*" + what.replace("(", r"\(")
                       .replace(")", r"\)")):
        framework.compile(f, fullgraph=True)(x)


def test_output_needing_autograd_runs_eagerly():
    lin = nn.Linear(2, 2)
    compiled = framework.compile(lin)
    with pytest.warns(framework.jit.compile.GraphBreakWarning, match="requires grad"):
        out = compiled(framework.ones(1, 2))
    out.sum().backward()
    assert lin.weight.grad is not None


def test_set_context_eager_runs_python():
    calls = []

    @framework.jit
    def f(x):
        calls.append(1)
        return x + 1

    x = framework.ones(2)
    f(x), f(x)
    assert len(calls) == 1
    framework.set_context(mode="eager")
    try:
        assert framework.get_context("mode") == "eager"
        f(x)
        assert len(calls) == 2
    finally:
        framework.set_context(mode="graph")
    with pytest.raises(ValueError, match="'graph' or 'eager'"):
        framework.set_context(mode="pynative")


def test_compiled_module_passes_state_through():
    model = nn.Linear(3, 2)
    compiled = framework.compile(model)
    assert isinstance(compiled, nn.Module)
    assert list(compiled.state_dict()) == ["_orig_mod.weight", "_orig_mod.bias"]
    assert [p is q for p, q in zip(compiled.parameters(), model.parameters())] == [True, True]
    assert compiled.in_features == 3
    with framework.no_grad():
        np.testing.assert_allclose(compiled(framework.ones(4, 3)).numpy(), model(framework.ones(4, 3)).numpy())


def test_trace_inspection():
    traced = framework.jit.trace(_f, (framework.ones(2), framework.ones(2)), optimize=False)
    assert "tanh" in traced.code and traced.code == str(traced.graph)
    assert "->" in traced.to_dot()


def test_full_pipeline_training_step_matches_eager():
    def run(compiled):
        framework.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
        opt = framework.optim.Adam(model.parameters(), lr=0.01)

        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss

        fn = framework.compile(step) if compiled else step
        rng = np.random.default_rng(0)
        for _ in range(5):
            fn(framework.tensor(rng.standard_normal((4, 6)).astype(np.float32)),
               framework.tensor(rng.standard_normal((4, 2)).astype(np.float32)))
        return [p.detach().numpy() for p in model.parameters()]

    for a, b in zip(run(True), run(False)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
