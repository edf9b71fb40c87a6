"""Cross-entropy's backward fused into one pass: matched on training steps, bit-for-bit the chain it replaces
up to the exp polynomial, equal to torch's gradient; chains whose pieces feed anything else stay."""
import numpy as np
import pytest

pytest.importorskip("hypothesis")
from test_passes_random import Builder, assert_same, run, small_training_step  # noqa: E402

import framework  # noqa: E402
from framework.jit.passes import optimize  # noqa: E402
from framework.jit.passes.class_grad import FUSED_KERNEL, MEAN_KERNEL, fuse_class_backward  # noqa: E402
from kernels.cpu import KERNELS  # noqa: E402

RNG = np.random.default_rng(0)


def _chain(b, logits, target, extra_reader=None):
    """The backward autograd records for ``class_pick(log_softmax(logits), target)`` with a row gradient."""
    logp = b.op("log_softmax", logits, dim=1)
    g = b.input(RNG.standard_normal(target.shape[0]).astype(np.float32))
    placed = b.op("class_place", g, target, classes=logits.shape[1])
    e = b.op("exp", logp)
    total = b.op("sum", placed, dims=(1,), keepdim=True)
    product = b.op("mul", e, total)
    grad = b.op("sub", placed, product)
    outs = [grad] + ([b.op("neg", {"placed": placed, "product": product}[extra_reader])] if extra_reader else [])
    return b.out(*outs)


def _graph(dtype=np.float32, extra_reader=None):
    b = Builder()
    logits = b.input((RNG.standard_normal((6, 5)) * 3).astype(dtype))
    target = b.input(np.array([0, 4, 2, 2, 1, 3]))
    return _chain(b, logits, target, extra_reader), b.example


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_chain_becomes_one_node_with_the_same_values(dtype):
    graph, example = _graph(dtype)
    expected = run(graph, example)
    assert fuse_class_backward(graph) == {"class_backward_fused": 1}
    assert [n.kernel for n in graph.nodes] == ["log_softmax", FUSED_KERNEL]
    assert_same(expected, run(graph, example), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("reader", ["placed", "product"])
def test_a_chain_whose_pieces_feed_other_nodes_stays(reader):
    graph, example = _graph(extra_reader=reader)
    assert fuse_class_backward(graph) == {"class_backward_fused": 0}
    assert FUSED_KERNEL not in [n.kernel for n in graph.nodes]


def test_kernel_matches_the_unfused_formula_on_large_rows_and_rejects_bad_targets():
    logits = (RNG.standard_normal((64, 300)) * 4).astype(np.float32)
    logits[3, :] = -np.inf
    logits[3, 7] = 0.0  # one certain class: exp underflows to 0 everywhere else
    logp = KERNELS["log_softmax"](logits, 1)
    g, target = RNG.standard_normal(64).astype(np.float32), RNG.integers(0, 300, 64)
    placed = KERNELS["class_place"](g, target, 300)
    expected = placed - np.exp(logp) * placed.sum(1, keepdims=True)
    np.testing.assert_allclose(KERNELS[FUSED_KERNEL](logp, g, target), expected, rtol=2e-6, atol=1e-7)
    with pytest.raises(IndexError, match="Target 300 is out of bounds"):
        KERNELS[FUSED_KERNEL](logp, g, np.full(64, 300))


@pytest.mark.parametrize("ignore", [False, True])
def test_compiled_cross_entropy_step_fuses_and_matches_torch(ignore):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((12, 7)).astype(np.float32)
    target = RNG.integers(0, 7, 12)
    if ignore:
        target[[1, 5]] = -100
    w0 = RNG.standard_normal((7, 7)).astype(np.float32)

    def grads(lib, compile_step):
        w = lib.nn.Parameter(lib.tensor(w0))
        loss_fn = lib.nn.CrossEntropyLoss()

        def step(inp, t):
            w.grad = None
            loss = loss_fn(inp @ w, t)
            loss.backward()
            return loss
        fn = framework.compile(step) if compile_step else step
        loss = fn(lib.tensor(x), lib.tensor(target))
        return loss.detach().numpy(), w.grad.numpy(), fn

    loss, grad, compiled = grads(framework, True)
    ref_loss, ref_grad, _ = grads(torch, False)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-5, atol=1e-7)
    assert MEAN_KERNEL in [n.kernel for n in compiled.entries[-1].graph.nodes]  # the class backward inside


def test_pipeline_reports_the_fusion():
    graph, _ = _graph()
    report = optimize(graph)
    assert {r.name: r.stats for r in report.passes}["class_backward"] == {"class_backward_fused": 1}


def _ce_step(ignore_some):
    """(model, step) of the small classifier trained with SGD on mean cross-entropy; some targets ignored."""
    targets = (0, -100, 2, 1, -100) if ignore_some else (0, 2, 1, 1, 0)
    return small_training_step(lambda params: framework.optim.SGD(params, lr=0.1), targets)


@pytest.mark.parametrize("ignore_some", [False, True])
def test_mean_cross_entropy_is_one_node_and_trains_as_eager(ignore_some):
    model, step = _ce_step(ignore_some)
    eager = [step().item() for _ in range(4)]
    eager_params = [p.detach().numpy().copy() for p in model.parameters()]
    model, step = _ce_step(ignore_some)
    compiled = framework.compile(step, options={"worth_check": False})
    losses = [compiled().item() for _ in range(4)]
    np.testing.assert_allclose(losses, eager, rtol=1e-6)
    for p, q in zip(model.parameters(), eager_params):
        np.testing.assert_allclose(p.detach().numpy(), q, rtol=1e-5, atol=1e-7)
    kernels = [n.kernel for n in compiled.entries[-1].graph.nodes]
    assert kernels.count(MEAN_KERNEL) == 1
    assert not {"class_pick", FUSED_KERNEL, "expand"} & set(kernels)
    stats = {r.name: r.stats for r in compiled.entries[-1].report.passes}
    assert stats["cross_entropy"] == {"cross_entropy_fused": 1}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_kernel_matches_the_chain_and_names_a_bad_target(dtype):
    logits = (RNG.standard_normal((9, 6)) * 3).astype(dtype)
    logp = KERNELS["log_softmax"](logits, 1)
    target = np.array([0, 5, -100, 2, 2, 1, 3, -100, 4])
    seed = dtype(2.0)
    loss, grad = KERNELS[MEAN_KERNEL](logp, target, seed, ignore_index=-100)
    kept = target != -100
    expected_loss = -logp[kept, target[kept]].mean()
    probs = np.exp(logp)
    onehot = np.zeros_like(logp)
    onehot[np.nonzero(kept)[0], target[kept]] = 1
    expected_grad = (probs - onehot) * kept[:, None] * (seed / kept.sum())
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-6)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-5, atol=1e-7)
    with pytest.raises(IndexError, match="Target 6 is out of bounds for 6 classes"):
        KERNELS[MEAN_KERNEL](logp, np.array([0, 6, 1, 1, 1, 1, 1, 1, 1]), seed, ignore_index=-100)
