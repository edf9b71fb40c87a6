"""Update scheduling: in-place writes move up to their last dependency, never past a node touching their memory."""
import numpy as np
import pytest

pytest.importorskip("hypothesis")
from test_passes_random import Builder, assert_same, run, small_training_step  # noqa: E402

import framework  # noqa: E402
from framework.jit.passes import DEFAULT_PIPELINE  # noqa: E402
from framework.jit.passes.schedule_updates import schedule_updates  # noqa: E402

X = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)


def _kernels(graph):
    return [n.kernel for n in graph.nodes]


def _scheduled(graph, example):
    expected = run(graph, example)
    stats = schedule_updates(graph)
    graph.verify()
    assert_same(expected, run(graph, example), rtol=0)
    return stats


def test_a_write_moves_up_to_the_value_it_writes():
    b = Builder()
    p, grad = b.input(X), b.input(X * 0.5)
    step = b.op("neg", grad)
    later = b.op("tanh", b.op("exp", grad))  # work unrelated to p
    b.op("copy_into", p, step, mutates=(0,))
    graph = b.out(later, p)
    assert _scheduled(graph, b.example) == {"updates_moved": 1}
    assert _kernels(graph) == ["neg", "copy_into", "exp", "tanh"]


@pytest.mark.parametrize("blocker", ["reads_target", "reads_view_of_target"])
def test_a_write_stays_behind_nodes_touching_its_memory(blocker):
    b = Builder()
    p, grad, other = b.input(X), b.input(X * 0.5), b.input(X + 1)
    step = b.op("neg", grad)
    if blocker == "reads_target":
        seen = b.op("exp", p)
    elif blocker == "reads_view_of_target":
        seen = b.op("exp", b.op("permute", p, dims=(1, 0)))
    b.op("copy_into", p, step, mutates=(0,))
    graph = b.out(seen, p)
    before = _kernels(graph)
    assert _scheduled(graph, b.example) == {"updates_moved": 0}
    assert _kernels(graph) == before


def test_a_write_stays_behind_an_earlier_write_to_what_it_reads():
    b = Builder()
    p, grad, other = b.input(X), b.input(X * 0.5), b.input(X + 1)
    step = b.op("neg", grad)
    b.op("copy_into", step, other, mutates=(0,))
    seen = b.op("exp", other)
    b.op("copy_into", p, step, mutates=(0,))
    graph = b.out(seen, p)
    assert _scheduled(graph, b.example) == {"updates_moved": 1}  # past exp, not past the write into step
    assert _kernels(graph) == ["neg", "copy_into", "copy_into", "exp"]
    assert graph.nodes[2].inputs[0] is p


def test_compiled_adam_step_moves_updates_and_equals_the_unscheduled_pipeline(monkeypatch):
    def build():
        return small_training_step(lambda params: framework.optim.Adam(params, lr=0.01))

    results = {}
    # without row fusion, which would fold this small MLP's bias gradients into the row groups making them
    # and leave a single update to move
    pipeline = tuple(p for p in DEFAULT_PIPELINE if p != "fuse_rows")
    for label, passes in (("scheduled", pipeline),
                          ("unscheduled", tuple(p for p in pipeline if p != "schedule_updates"))):
        monkeypatch.setattr(framework.jit.passes, "DEFAULT_PIPELINE", passes)
        model, step = build()
        compiled = framework.compile(step, options={"worth_check": False})
        losses = [compiled().item() for _ in range(4)]
        results[label] = losses, [p.detach().numpy().copy() for p in model.parameters()], compiled
    (l1, p1, compiled), (l2, p2, _) = results["scheduled"], results["unscheduled"]
    assert l1 == l2
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a, b)
    stats = {r.name: r.stats for r in compiled.entries[-1].report.passes}
    assert stats["schedule_updates"]["updates_moved"] >= 2
    model, step = build()
    eager = [step().item() for _ in range(4)]
    np.testing.assert_allclose(l1, eager, rtol=1e-6)
