"""Capture follow-ups: index tensors are graph inputs (a replay with new indices equals eager), host reads of
values are graph breaks, ``worth_compiling`` decides per signature, and the executor applies buffer reuse."""
import warnings

import numpy as np
import pytest

import framework
import framework.nn as nn
import framework.nn.functional as F
from framework.jit import GraphBreakError
from framework.jit.interpreter import interpret


def _compile(fn):
    return framework.compile(fn, options={"worth_check": False})


def _replays_like_eager(fn, first, second):
    """Trace ``fn`` on ``first``, replay on ``second`` (new index values, same shapes); compare with eager."""
    compiled = _compile(fn)
    for args in (first, second):
        got = compiled(*args)
        np.testing.assert_allclose(got.numpy(), fn(*args).numpy(), rtol=1e-6)
    assert len(compiled.entries) == 1 and not compiled.entries[0].eager  # the second call replayed the graph
    return compiled


def _idx(*values):
    return framework.tensor(list(values), dtype=framework.int64)


X = framework.arange(20, dtype=framework.float32).reshape(4, 5)


def test_getitem_with_index_tensor_reads_new_indices():
    compiled = _replays_like_eager(lambda x, i: x[i] * 2, (X, _idx(0, 1)), (X, _idx(3, 2)))
    node = next(n for n in compiled.graph.nodes if n.op == "index")
    assert node.kernel == "call_with_arrays" and node.inputs[-1].name == "i"


def test_getitem_with_int32_index_and_second_dim():
    i = framework.tensor([0, 4], dtype=framework.int32)
    _replays_like_eager(lambda x, i: x[:, i] + 1, (X, i), (X, framework.tensor([2, -1], dtype=framework.int32)))


def test_gather_reads_new_indices():
    first = framework.tensor([[0, 1, 2, 3, 0]] * 4)
    second = framework.tensor([[4, 3, 2, 1, 0]] * 4)
    _replays_like_eager(lambda x, i: framework.gather(x, 1, i[:, :3] * 0 + i[:, :3]), (X, first), (X, second))


def test_gather_with_argument_index_directly():
    _replays_like_eager(lambda x, i: x.gather(0, i), (X, framework.zeros(2, 5, dtype=framework.int64)),
                        (X, framework.full((2, 5), 3, dtype=framework.int64)))


def test_index_select_reads_new_indices():
    _replays_like_eager(lambda x, i: x.index_select(1, i), (X, _idx(0, 1, 2)), (X, _idx(4, 4, 0)))


def test_index_select_with_scalar_index():
    _replays_like_eager(lambda x, i: x.index_select(0, i), (X, framework.tensor(1)), (X, framework.tensor(3)))


def test_take_and_take_along_dim_read_new_indices():
    _replays_like_eager(lambda x, i: x.take(i), (X, _idx(0, 19)), (X, _idx(7, -1)))
    _replays_like_eager(lambda x, i: x.take_along_dim(i, 1), (X, framework.zeros(4, 2, dtype=framework.int64)),
                        (X, framework.full((4, 2), -1, dtype=framework.int64)))


def test_scatter_and_scatter_add_read_new_indices():
    src = framework.ones(4, 5)
    _replays_like_eager(lambda x, i: x.scatter(1, i, src), (X, framework.zeros(4, 2, dtype=framework.int64)),
                        (X, framework.full((4, 2), 3, dtype=framework.int64)))
    _replays_like_eager(lambda x, i: x.scatter_add(0, i, src), (X, framework.zeros(1, 5, dtype=framework.int64)),
                        (X, framework.full((1, 5), 2, dtype=framework.int64)))


def test_index_add_copy_fill_and_put_read_new_indices():
    src = framework.ones(4, 2)
    _replays_like_eager(lambda x, i: x.index_add(1, i, src), (X, _idx(0, 0)), (X, _idx(1, 4)))
    _replays_like_eager(lambda x, i: x.index_copy(1, i, src), (X, _idx(0, 1)), (X, _idx(3, 4)))
    _replays_like_eager(lambda x, i: x.index_fill(0, i, -1.0), (X, _idx(0, 0)), (X, _idx(2, 3)))
    _replays_like_eager(lambda x, i: x.put(i, framework.ones(2)), (X, _idx(0, 1)), (X, _idx(5, 19)))
    _replays_like_eager(lambda x, i: x.index_reduce(1, i, src, "amax"), (X, _idx(0, 1)), (X, _idx(3, 3)))


def test_setitem_and_index_put_read_new_indices():
    def assign(x, i):
        y = x.clone()
        y[i] = 0.0
        return y

    def put(x, i):
        y = x.clone()
        y.index_put_((i,), framework.ones(5), accumulate=True)
        return y

    _replays_like_eager(assign, (X, _idx(0)), (X, _idx(3)))
    _replays_like_eager(put, (X, _idx(0, 0)), (X, _idx(1, 2)))


def test_boolean_mask_assignment_reads_new_mask():
    def zero_masked(x, m):
        y = x.clone()
        y[m] = 0.0
        return y.masked_fill(~m, 1.0)

    _replays_like_eager(zero_masked, (X, X > 10), (X, X < 4))


def test_uint8_mask_index_put_reads_new_mask():
    def zero_masked(x, m):
        y = x.clone()
        y[m] = 0.0
        return y

    _replays_like_eager(zero_masked, (X, (X > 10).to(framework.uint8)), (X, (X < 4).to(framework.uint8)))


def test_embedding_reads_new_indices_with_int32_and_padding():
    emb = nn.Embedding(10, 3, padding_idx=0)
    with framework.no_grad():
        _replays_like_eager(lambda i: emb(i), (framework.tensor([1, 2], dtype=framework.int32),),
                            (framework.tensor([0, 9], dtype=framework.int32),))


def test_embedding_padding_gradient_follows_new_indices():
    emb = nn.Embedding(6, 2, padding_idx=0)

    def step(i):
        emb.weight.grad = None
        emb(i).sum().backward()
        return emb.weight.grad.clone()

    compiled = _compile(step)
    for i in (_idx(0, 1, 1), _idx(2, 0, 5)):
        got = compiled(i)
        np.testing.assert_allclose(got.numpy(), step(i).numpy(), rtol=1e-6)
    assert not compiled.entries[0].eager


def test_cross_entropy_training_step_reads_new_targets():
    torch = pytest.importorskip("torch")
    model = nn.Linear(5, 3)
    ref = torch.nn.Linear(5, 3)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(model.weight.detach().numpy()))
        ref.bias.copy_(torch.tensor(model.bias.detach().numpy()))
    opt = framework.optim.SGD(model.parameters(), lr=0.1)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y, ignore_index=2)
        loss.backward()
        opt.step()
        return loss

    compiled = _compile(step)
    x = framework.randn(6, 5)
    for target in ([0, 1, 2, 0, 1, 1], [1, 1, 0, 2, 2, 0], [2, 0, 0, 1, 1, 0]):
        y = _idx(*target)
        loss = compiled(x, y)
        ref_opt.zero_grad()
        ref_loss = torch.nn.functional.cross_entropy(ref(torch.tensor(x.numpy())), torch.tensor(target),
                                                     ignore_index=2)
        ref_loss.backward()
        ref_opt.step()
        np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-5)
    np.testing.assert_allclose(model.weight.detach().numpy(), ref.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert len(compiled.entries) == 1 and not compiled.entries[0].eager


def test_gather_backward_in_training_step_follows_new_indices():
    w = nn.Parameter(framework.randn(4, 5))

    def step(i):
        w.grad = None
        w.gather(1, i).sum().backward()
        return w.grad.clone()

    compiled = _compile(step)
    for i in (framework.zeros(4, 2, dtype=framework.int64), framework.full((4, 2), 4, dtype=framework.int64)):
        np.testing.assert_array_equal(compiled(i).numpy(), step(i).numpy())
    assert not compiled.entries[0].eager


def test_one_hot_with_num_classes_reads_new_values():
    _replays_like_eager(lambda i: F.one_hot(i, 5).float(), (_idx(0, 1),), (_idx(4, 2),))


def test_module_buffer_index_is_bound_live():
    class Permute(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("perm", _idx(0, 1, 2, 3))

        def forward(self, x):
            return x[self.perm]

    m = Permute()
    compiled = framework.compile(m, options={"worth_check": False})
    compiled(X)
    m.perm.copy_(_idx(3, 2, 1, 0))
    np.testing.assert_array_equal(compiled(X).numpy(), X.numpy()[::-1])
    assert not compiled._compiled.entries[0].eager


def test_constant_index_stays_a_constant():
    traced = framework.jit.trace(lambda x: x[framework.tensor([1, 3])], (X,), optimize=False)
    assert [v.role for v in traced.graph.inputs] == ["arg"]
    np.testing.assert_array_equal(traced(X).numpy(), X.numpy()[[1, 3]])


@pytest.mark.parametrize("fn, what", [
    (lambda x, i: x[x > 3], "boolean mask"),
    (lambda x, i: x.masked_select(x > 3), "boolean mask"),
    (lambda x, i: x.nonzero(), "nonzero()"),
    (lambda x, i: i.unique(), "unique()"),
    (lambda x, i: x.repeat_interleave(i[:4], dim=0), "repeat_interleave()"),
    (lambda x, i: x.masked_scatter(x > 3, x), "masked_scatter()"),
    (lambda x, i: x.quantile(0.5), "quantile()"),
    (lambda x, i: x.histc(4), "histc()"),
    (lambda x, i: framework.isin(i, i), "isin()"),
    (lambda x, i: F.one_hot(i), "one_hot()"),
    (lambda x, i: x.nonzero_static(size=2), "nonzero"),
])
def test_host_reads_are_graph_breaks(fn, what):
    i = _idx(0, 1, 2, 3)
    with pytest.raises(GraphBreakError, match=what.replace("(", r"\(").replace(")", r"\)")) as info:
        framework.jit.trace(fn, (X, i))
    assert "test_capture_followups.py" in str(info.value)


def test_host_read_break_runs_that_signature_eagerly():
    compiled = _compile(lambda x: x[x > 10].sum())
    with pytest.warns(UserWarning, match="boolean mask"):
        compiled(X)
    np.testing.assert_allclose(compiled(X * -1).item(), 0.0)
    assert compiled.entries[0].eager


def test_replayed_index_graph_matches_interpreter():
    traced = framework.jit.trace(lambda x, i: x[i].relu(), (X, _idx(1, 2)))
    arrays = [X._data, _idx(3, 0)._data]
    np.testing.assert_array_equal(interpret(traced.graph, arrays)[0], X.numpy()[[3, 0]])


# ----- worth_compiling decides per signature -------------------------------------------------------------
@pytest.fixture
def fixed_costs(monkeypatch):
    """Cost-model figures fixed (5 us per eager op, 0.1 us per replayed node) so verdicts do not depend on load."""
    explain = framework.jit.explain
    monkeypatch.setattr(explain, "_COSTS", {"eager_op_s": 5e-6, "replay_op_s": 1e-7, "bandwidth_Bps": 1e10})
    return explain


def test_explain_attribute_is_callable_and_a_module(fixed_costs):
    from framework.jit.explain import worth_compiling
    assert framework.jit.explain.worth_compiling is worth_compiling
    report = framework.jit.explain(lambda x: (x * 2).relu().sum(), framework.randn(10), runs=1)
    assert "decision:" in str(report)


def test_small_graph_runs_eagerly_with_its_reason(fixed_costs):
    calls = []

    def small(x):
        calls.append(1)
        return x * 2

    compiled = framework.compile(small)
    x = framework.randn(4)
    for _ in range(3):
        np.testing.assert_array_equal(compiled(x).numpy(), (x * 2).numpy())
    assert len(calls) == 3 and compiled.entries[0].eager  # traced once, then plain calls
    assert compiled.decisions[0].startswith("stays eager: graph too small to win")
    assert [n.op for n in compiled.graph.nodes] == ["mul"]  # the graph is kept for inspection


def test_large_graph_is_compiled_with_its_reason(fixed_costs):
    calls = []

    def big(x):
        calls.append(1)
        for _ in range(40):
            x = (x @ x).tanh()
        return x

    compiled = framework.compile(big)
    x = framework.randn(3, 3) * 0.1
    compiled(x)
    np.testing.assert_allclose(compiled(x).numpy(), big(x).numpy(), rtol=1e-6)
    assert len(calls) == 2 and not compiled.entries[0].eager  # second call replayed, third was eager `big`
    assert compiled.decisions[0].startswith("compiled: predicted gain")


def test_worth_check_option_and_trace_always_compile(fixed_costs):
    forced = framework.compile(lambda x: x * 2, options={"worth_check": False})
    forced(framework.ones(2))
    assert not forced.entries[0].eager and forced.decisions == [None]
    traced = framework.jit.trace(lambda x: x * 2, (framework.ones(2),))
    assert not traced.entries[0].eager
    with pytest.raises(TypeError, match="worth_check"):
        framework.compile(lambda x: x, options={"worth_check": 1})


def test_break_decision_is_recorded():
    compiled = framework.compile(lambda x: x * x.sum().item())
    with pytest.warns(UserWarning, match="item"):
        compiled(framework.ones(2))
    assert compiled.decisions[0].startswith("stays eager: graph break at") and "item()" in compiled.decisions[0]


# ----- the executor applies the plan's buffer reuse ---------------------------------------------------
def _chain(x, w):
    a = (x @ w).exp() + 1.0
    b = (a @ w).sin() * 3.0
    return (b @ w).cos()


def test_executor_writes_into_donated_buffers(monkeypatch):
    from framework.jit.executor import Executor
    from framework.jit.passes import optimize
    from framework.jit.passes.memory_plan import run_planned
    x, w = framework.randn(16, 16), framework.randn(16, 16) * 0.1
    graph = framework.jit.trace(_chain, (x, w), optimize=False).graph
    arrays = [x._data, w._data]
    expected = interpret(graph, arrays)[0]
    optimize(graph, passes=("dce", "memory_plan"))
    assert len(graph.memory_plan.reuse) >= 4
    donated = []
    original = Executor._into_donor

    def spy(self, *args):
        done = original(self, *args)
        donated.append(done)
        return done

    monkeypatch.setattr(Executor, "_into_donor", spy)
    executor = Executor(graph)
    for _ in range(2):  # a second run must not see the first run's buffers
        out = executor.run(arrays)[0]
        np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(run_planned(graph, arrays)[0], expected)
    assert donated and all(donated) and len(donated) == 2 * len(graph.memory_plan.reuse)


def test_executor_skips_a_donor_that_does_not_fit():
    from framework.jit.executor import Executor
    from framework.jit.passes import optimize
    x, w = framework.randn(8, 8), framework.randn(8, 8) * 0.1
    graph = framework.jit.trace(_chain, (x, w), optimize=False).graph
    expected = interpret(graph, [x._data, w._data])[0]
    optimize(graph, passes=("dce", "memory_plan"))
    plan = graph.memory_plan
    plan.buffer = staticmethod(lambda donor, value: None)  # e.g. a donor that came back non-contiguous
    np.testing.assert_array_equal(Executor(graph).run([x._data, w._data])[0], expected)


def test_compiled_training_step_with_memory_plan_matches_eager():
    framework.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 2))
    twin = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 2))
    twin.load_state_dict(model.state_dict())
    opts = [framework.optim.Adam(m.parameters(), lr=1e-2) for m in (model, twin)]

    def make_step(m, opt):
        def step(x, y):
            opt.zero_grad()
            loss = F.mse_loss(m(x), y)
            loss.backward()
            opt.step()
            return loss
        return step

    compiled = framework.compile(make_step(model, opts[0]), options={"worth_check": False})
    eager = make_step(twin, opts[1])
    x, y = framework.randn(32, 8), framework.randn(32, 2)
    for _ in range(4):
        np.testing.assert_allclose(compiled(x, y).item(), eager(x, y).item(), rtol=1e-5)
    assert compiled.graph.memory_plan is not None and not compiled.entries[0].eager
    for a, b in zip(model.parameters(), twin.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
