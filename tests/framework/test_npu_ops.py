"""NPU lowerings beyond the basics: reductions and softmax as row programs, grouped and 1-D convolutions with
img2col in MTE1, the cross-entropy pieces, and the profiler's timeline segments."""
import numpy as np
import pytest

import framework
import framework.nn as nn
import framework.nn.functional as F

torch = pytest.importorskip("torch")


pytestmark = pytest.mark.usefixtures("npu_without_fallback")


def _rand(*shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def _models(prof):
    return {r.op: r.model for r in prof.records}


@pytest.mark.parametrize("shape, dim", [((7, 100), -1), ((300, 64), 1), ((3, 5, 130), -1), ((4, 6, 5), 1),
                                        ((2, 1000), 0)])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_softmax_and_log_softmax_are_row_programs(shape, dim, dtype):
    x = _rand(*shape, seed=1, scale=3.0).astype(dtype)
    xn = framework.tensor(x).npu()
    with framework.npu.profile() as prof:
        for name in ("softmax", "log_softmax"):
            out = getattr(xn, name)(dim).cpu().numpy()
            ref = getattr(torch, name)(torch.tensor(x).float(), dim).to(getattr(torch, dtype)).numpy()
            assert out.dtype == np.dtype(dtype)
            tol = 1e-6 if dtype == "float32" else 1e-3
            np.testing.assert_allclose(out.astype(np.float64), ref.astype(np.float64), rtol=tol * 4, atol=tol * 4)
    permuted = dim % len(shape) != len(shape) - 1
    assert set(_models(prof).values()) == {"sim+analytic" if permuted else "sim"}


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_gradients_match_torch(name):
    x, g = _rand(9, 70, seed=2), _rand(9, 70, seed=3)
    xn = framework.tensor(x).npu().requires_grad_()
    getattr(xn, name)(1).backward(framework.tensor(g).npu())
    xt = torch.tensor(x, requires_grad=True)
    getattr(xt, name)(1).backward(torch.tensor(g))
    np.testing.assert_allclose(xn.grad.cpu().numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin"])
@pytest.mark.parametrize("dims, keepdim", [((-1,), False), ((1,), True), ((0, 2), False), (None, False)])
def test_reductions_over_any_dims_are_row_programs(op, dims, keepdim):
    x = _rand(6, 40, 33, seed=4)
    x[2, 5, 7] = 9.0                    # a unique extreme
    xn = framework.tensor(x).npu()
    with framework.npu.profile() as prof:
        out = (getattr(xn, op)(dims, keepdim=keepdim) if dims is not None else getattr(xn, op)()).cpu().numpy()
    xt = torch.tensor(x, dtype=torch.float64)
    ref = (getattr(xt, op)(dims, keepdim=keepdim) if dims is not None else getattr(xt, op)()).numpy()
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    assert all(r.model in ("sim", "sim+analytic") for r in prof.records)


def test_long_rows_stream_and_nan_propagates():
    x = _rand(1, 100_000, seed=5)
    xn = framework.tensor(x).npu()
    np.testing.assert_allclose(xn.sum().cpu().numpy(), x.astype(np.float64).sum(), rtol=1e-5)
    x[0, 77_777] = np.nan
    assert np.isnan(framework.tensor(x).npu().amax(-1).cpu().numpy()).all()
    h = framework.tensor(_rand(5, 300, seed=6)).half().npu()
    np.testing.assert_allclose(h.sum(-1).cpu().numpy().astype(np.float64),
                               h.cpu().float().numpy().astype(np.float64).sum(-1), rtol=2e-3)


def test_softmax_row_too_long_for_the_ub_names_op_and_device():
    with pytest.raises(NotImplementedError, match=r"'softmax'.*'npu'.*UB"):
        framework.zeros(1, 70_000).npu().softmax(-1)


def _conv_case(conv, torch_conv, xs, ws, seed, **kw):
    x, w = _rand(*xs, seed=seed), _rand(*ws, seed=seed + 1)
    xr = torch.tensor(x.astype(np.float16).astype(np.float64), requires_grad=True)
    wr = torch.tensor(w.astype(np.float16).astype(np.float64), requires_grad=True)
    ref = torch_conv(xr, wr, **kw)
    g = _rand(*ref.shape, seed=seed + 2)
    ref.backward(torch.tensor(g.astype(np.float16).astype(np.float64)))
    xn, wn = framework.tensor(x).npu().requires_grad_(), framework.tensor(w).npu().requires_grad_()
    with framework.npu.profile() as prof:
        y = conv(xn, wn, **kw)
        y.backward(framework.tensor(g).npu())
    for got, want in ((y, ref), (xn.grad, xr.grad), (wn.grad, wr.grad)):
        want = want.detach().numpy()
        np.testing.assert_allclose(got.detach().cpu().numpy(), want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    return prof


@pytest.mark.parametrize("xs, ws, kw", [
    ((2, 8, 9, 7), (6, 4, 3, 3), dict(stride=1, padding=1, groups=2)),
    ((2, 32, 8, 8), (32, 1, 3, 3), dict(stride=2, padding=1, groups=32)),        # depthwise
    ((1, 4, 10, 10), (8, 4, 3, 2), dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1))),
    ((2, 16, 12, 12), (32, 16, 3, 3), dict(padding="same")),
])
def test_grouped_and_rectangular_conv2d_on_the_cube(xs, ws, kw):
    prof = _conv_case(F.conv2d, torch.nn.functional.conv2d, xs, ws, 10, **kw)
    models = _models(prof)
    assert models["conv"] == "sim" and models["conv_weight"] == "sim"
    conv = next(r for r in prof.records if r.op == "conv")
    assert conv.busy["MTE1"] > 0 and conv.cube_utilisation > 0


def test_conv1d_runs_as_conv2d_with_a_unit_height():
    prof = _conv_case(F.conv1d, torch.nn.functional.conv1d, (3, 6, 20), (4, 3, 5), 20, stride=2, padding=2,
                      groups=2)
    assert _models(prof)["conv"] == "sim"


def test_small_cnn_with_grouped_conv_and_softmax_classifier_trains_on_npu():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 4, 6, 6)).astype(np.float32), rng.integers(0, 3, 8)

    def run(device):
        framework.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, groups=8),
                              nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 3)).to(device)
        opt = framework.optim.SGD(model.parameters(), lr=0.1)
        x, y = framework.tensor(X).to(device), framework.tensor(Y).to(device)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(float(loss.cpu()))
        return losses

    with framework.npu.profile() as prof:
        npu = run("npu")
    cpu = run("cpu")
    assert npu[-1] < npu[0]
    np.testing.assert_allclose(npu, cpu, rtol=5e-3)
    assert "host" not in {r.model for r in prof.records}
    assert {"conv", "conv_transpose", "conv_weight", "log_softmax", "class_pick", "class_place"} <= set(_models(prof))


def test_class_pick_and_place_are_dma_programs():
    x, t = _rand(5, 7, seed=40), np.array([0, 6, 3, 3, 1])
    xn = framework.tensor(x).npu().requires_grad_()
    with framework.npu.profile() as prof:
        loss = F.nll_loss(xn, framework.tensor(t).npu(), reduction="sum")
        loss.backward()
    np.testing.assert_allclose(float(loss.cpu()), -x[np.arange(5), t].sum(), rtol=1e-6)
    want = np.zeros_like(x)
    want[np.arange(5), t] = -1
    np.testing.assert_array_equal(xn.grad.cpu().numpy(), want)
    assert _models(prof)["class_pick"] == "sim" and _models(prof)["class_place"] == "sim"


def test_timeline_segments_separate_launch_from_pipe_activity(tmp_path):
    x = framework.tensor(_rand(40, 50, seed=50)).npu()
    with framework.npu.profile() as prof:
        (x @ x.T).softmax(1).sum()
    for r in prof.records:
        launch = [(lo, hi) for lane, lo, hi in r.segments if lane == "launch"]
        assert launch and launch[0] == (0.0, r.launch) and r.launch > 0
        pipes = [(lo, hi) for lane, lo, hi in r.segments if lane != "launch"]
        assert pipes and min(lo for lo, _ in pipes) >= r.launch and max(hi for _, hi in pipes) <= r.cycles + 1e-9
    pytest.importorskip("matplotlib")
    path = prof.timeline(tmp_path / "t.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
