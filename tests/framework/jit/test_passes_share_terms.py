"""Sharing GELU's Phi(x) between forward and backward: the rewrite, its exactness, and where it does not apply."""
import numpy as np
import pytest

pytest.importorskip("hypothesis")
from test_passes_random import Builder, run  # noqa: E402

import framework  # noqa: E402
from framework.jit.executor import Executor  # noqa: E402
from framework.jit.passes import DEFAULT_PIPELINE, optimize  # noqa: E402
from framework.jit.passes.share_terms import share_forward_terms  # noqa: E402

EDGES = [0.0, -0.0, 1e-3, -1e-3, 0.5, -0.5, 1.5999, 1.6, -1.6, 3.9, -3.92, 6.0, -6.0, 10.0, -10.0, 30.0, -30.0,
         np.inf, -np.inf, np.nan]


def _pair(dtype, approximate="none", negated=False):
    """gelu(x) and gelu_backward(g, x); ``negated`` negates both, so that each can fuse without sharing too."""
    rng = np.random.default_rng(0)
    x = np.concatenate([np.array(EDGES), rng.normal(0, 3, 500)]).astype(dtype)
    g = rng.normal(0, 1, x.shape).astype(dtype)
    b = Builder()
    xv, gv = b.input(x), b.input(g)
    y = b.op("gelu", xv, approximate=approximate)
    dx = b.op("gelu_backward", gv, xv, approximate=approximate)
    if negated:
        y, dx = b.op("neg", y), b.op("neg", dx)
    return b, b.out(y, dx)


def _assert_bits(expected, got):
    for e, a in zip(expected, got):
        np.testing.assert_array_equal(a, e)  # NaN == NaN here; values to the last bit


def test_the_pair_shares_phi_and_gives_the_same_bits_unfused():
    b, g = _pair(np.float32)
    expected = run(g, b.example)
    assert share_forward_terms(g) == {"gelu_shared": 1}
    assert [n.kernel for n in g.nodes] == ["gelu_cdf", "mul", "gelu_backward_from_cdf"]
    cdf = g.nodes[0].outputs[0]
    assert g.nodes[2].inputs[2] is cdf and g.nodes[1].inputs == [g.inputs[0], cdf]
    _assert_bits(expected, run(g, b.example))


def test_fused_forward_writes_phi_for_the_backward_and_the_bits_stay():
    b, g = _pair(np.float32, negated=True)
    _, unshared = _pair(np.float32, negated=True)
    optimize(unshared, passes=[p for p in DEFAULT_PIPELINE if p != "share_terms"])
    optimize(g)
    assert [n.kernel for n in unshared.nodes] == ["fused_elementwise"] * 2  # gelu + neg, gelu_backward + neg
    assert [n.kernel for n in g.nodes] == ["fused_elementwise"]
    assert "gelu_backward_from_cdf" in str(g.nodes[0].attrs["program"])
    _assert_bits(Executor(unshared).run([a.copy() for a in b.example]), Executor(g).run([a.copy() for a in b.example]))


def test_tanh_gelu_and_a_backward_without_its_forward_are_left_alone():
    b, g = _pair(np.float32, approximate="tanh")
    assert share_forward_terms(g) == {"gelu_shared": 0}
    b = Builder()
    x, grad = b.input(np.ones(4, np.float32)), b.input(np.ones(4, np.float32))
    g = b.out(b.op("gelu_backward", grad, x, approximate="none"))
    assert share_forward_terms(g) == {"gelu_shared": 0} and g.nodes[0].kernel == "gelu_backward"


def test_eager_kernels_of_the_shared_form_match_torch():
    torch = pytest.importorskip("torch")
    from kernels.cpu.activation import KERNELS
    x = np.linspace(-8, 8, 401, dtype=np.float64)
    g = np.cos(x)
    cdf = KERNELS["gelu_cdf"](x)
    np.testing.assert_allclose(cdf, torch.distributions.Normal(0.0, 1.0).cdf(torch.from_numpy(x)).numpy(), rtol=1e-12,
                               atol=1e-15)
    tx = torch.from_numpy(x).requires_grad_()
    torch.nn.functional.gelu(tx).backward(torch.from_numpy(g))
    np.testing.assert_allclose(KERNELS["gelu_backward_from_cdf"](g, x, cdf), tx.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_compiled_transformer_mlp_step_shares_phi_and_equals_eager(dtype):
    nn = framework.nn
    dtype = getattr(framework, dtype)

    def build():
        framework.manual_seed(0)
        model = nn.Sequential(nn.Linear(16, 64), nn.GELU(), nn.Linear(64, 16), nn.GELU(), nn.Linear(16, 4))
        model.to(dtype)
        return model, framework.optim.AdamW(model.parameters(), lr=1e-2)

    x, y = framework.randn(32, 16, dtype=dtype), framework.randint(0, 4, (32,))

    def make_step(model, opt):
        def step():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        return step

    model, opt = build()
    compiled = framework.compile(make_step(model, opt), options={"worth_check": False})
    losses = [compiled().item() for _ in range(5)]
    kernels = [k for node in compiled.graph.nodes
               for k in (node.attrs["program"][1] if node.kernel in ("fused_elementwise", "fused_rows")
                         else [(node.kernel,)])]
    names = [k[0] for k in kernels]
    assert names.count("gelu_cdf") == 2 and names.count("gelu_backward_from_cdf") == 2
    assert "gelu_backward" not in names
    eager_model, eager_opt = build()
    eager = [make_step(eager_model, eager_opt)().item() for _ in range(5)]
    np.testing.assert_allclose(losses, eager, rtol=1e-6)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)
