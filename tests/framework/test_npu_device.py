"""The simulated ``npu`` device: moves, cube GEMMs in fp16 x fp16 -> fp32, vector ops, errors, fallback, profile."""
import warnings

import numpy as np
import pytest

import framework
from framework import nn


def _rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _cube_reference(a, b):
    """What the cube computes: fp16-rounded operands, exact products, a float64 sum rounded once to fp32."""
    return (a.astype(np.float16).astype(np.float64) @ b.astype(np.float16).astype(np.float64)).astype(np.float32)


@pytest.fixture
def host_fallback():
    framework.npu.set_host_fallback(True)
    yield
    framework.npu.set_host_fallback(False)


def test_device_api():
    assert framework.npu.is_available() and framework.npu.device_count() == 1


def test_round_trip_copies_and_keeps_values():
    x = framework.tensor(_rand(3, 4))
    xn = x.to("npu")
    assert xn.device.type == "npu" and xn.is_npu and xn.dtype is x.dtype
    assert xn._data is not x._data
    back = xn.cpu()
    assert back.device.type == "cpu" and np.array_equal(back.numpy(), x.numpy())
    assert x.npu().device == framework.device("npu")


def test_move_is_differentiable():
    x = framework.tensor(_rand(2, 3), requires_grad=True)
    (x.npu() * 3.0).sum().backward()
    assert x.grad.device.type == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 3.0, np.float32))


@pytest.mark.parametrize("sa,sb", [((37, 70), (70, 45)), ((5, 3, 16), (16, 9)), ((2, 4, 20), (2, 20, 6)),
                                   ((20,), (20, 7)), ((6, 20), (20,))])
def test_matmul_is_fp16_times_fp16_accumulated_in_fp32(sa, sb):
    a, b = _rand(*sa, seed=1), _rand(*sb, seed=2)
    out = framework.matmul(framework.tensor(a).npu(), framework.tensor(b).npu())
    assert out.device.type == "npu" and out.dtype is framework.float32
    np.testing.assert_allclose(out.cpu().numpy(), _cube_reference(a, b), rtol=2e-6, atol=2e-5)


def test_cube_rounds_float32_operands_to_fp16():
    # 1 + 2**-12 is not an fp16 value: the cube sees 1.0, so each of the 64 products is exactly 1
    a = framework.full((2, 64), 1 + 2 ** -12).npu()
    out = (a @ framework.ones(64, 3).npu()).cpu().numpy()
    np.testing.assert_array_equal(out, np.full((2, 3), 64.0, np.float32))


def test_linear_addmm_and_half():
    x, w, bias = _rand(4, 7, 24, seed=3), _rand(10, 24, seed=4), _rand(10, seed=5)
    out = framework.nn.functional.linear(framework.tensor(x).npu(), framework.tensor(w).npu(),
                                         framework.tensor(bias).npu())
    np.testing.assert_allclose(out.cpu().numpy(), _cube_reference(x, w.T) + bias, rtol=1e-5, atol=1e-5)
    a, b, c = _rand(6, 24, seed=6), _rand(24, 5, seed=7), _rand(5, seed=8)
    out = framework.addmm(framework.tensor(c).npu(), framework.tensor(a).npu(), framework.tensor(b).npu(),
                          beta=0.5, alpha=2.0)
    np.testing.assert_allclose(out.cpu().numpy(), 2 * _cube_reference(a, b) + 0.5 * c, rtol=1e-5, atol=1e-5)
    h = framework.tensor(a).half().npu() @ framework.tensor(b).half().npu()
    assert h.dtype is framework.float16
    np.testing.assert_array_equal(h.cpu().numpy(), _cube_reference(a, b).astype(np.float16))


def test_vector_ops_match_cpu():
    x, y = framework.tensor(_rand(5, 33, seed=9)), framework.tensor(_rand(33, seed=10) + 3)
    xn, yn = x.npu(), y.npu()
    for f in (lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
              lambda a, b: -a, lambda a, b: a.exp(), lambda a, b: a.relu(), lambda a, b: a.clone()):
        np.testing.assert_array_equal(f(xn, yn).cpu().numpy(), f(x, y).numpy())
    for f in (lambda a: a.sum(), lambda a: a.sum(1), lambda a: a.mean(0, keepdim=True),
              lambda a: a.softmax(1), lambda a: a.log_softmax(0)):
        np.testing.assert_allclose(f(xn).cpu().numpy(), f(x).numpy(), rtol=1e-6, atol=1e-6)


def test_mixing_devices_raises_like_torch():
    x = framework.ones(3)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        x + x.npu()
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        framework.ones(2, 3) @ framework.ones(3, 2).npu()


def test_missing_op_names_op_and_device():
    xn = framework.ones(3).npu()
    with pytest.raises(NotImplementedError, match=r"'sin'.*'npu'"):
        xn.sin()
    with pytest.raises(NotImplementedError, match=r"'matmul'.*'npu'.*float64"):
        framework.ones(2, 2, dtype=framework.float64).npu() @ framework.ones(2, 2, dtype=framework.float64).npu()


def test_host_fallback_runs_on_cpu_and_shows_in_profile(host_fallback):
    x = framework.tensor(_rand(4, 5, seed=11))
    with framework.npu.profile() as prof:
        with pytest.warns(UserWarning, match="'cos'.*host"):
            out = x.npu().cos()
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # warned once per op only
            x.npu().cos()
    assert out.device.type == "npu"
    np.testing.assert_array_equal(out.cpu().numpy(), np.cos(x.numpy()))
    assert [r.model for r in prof.records if r.op == "cos"] == ["host", "host"]
    assert any(line.startswith("cos") and "host fallback" in line for line in prof.table().splitlines())
    framework.npu.set_host_fallback(False)
    with pytest.raises(NotImplementedError, match=r"'cos'.*'npu'"):
        x.npu().cos()


def test_mlp_trains_on_npu_with_backward_on_the_cube():
    framework.manual_seed(0)
    ref = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 3))
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 3))
    model.load_state_dict(ref.state_dict())
    model.to("npu")
    assert all(p.device.type == "npu" for p in model.parameters())
    x, y = framework.tensor(_rand(16, 12, seed=12)), framework.tensor(_rand(16, 3, seed=13))
    ((ref(x) - y) * (ref(x) - y)).mean().backward()
    xn, yn = x.npu(), y.npu()
    with framework.npu.profile() as prof:
        loss = ((model(xn) - yn) * (model(xn) - yn)).mean()
        loss.backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        assert p.grad.device.type == "npu"
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.numpy(), rtol=2e-2, atol=2e-3)  # fp16 operands
    gemms = [r for r in prof.records if r.op == "linear"]
    assert len(gemms) >= 8   # 4 forward (the model runs twice) + the backward's products
    assert all(r.model == "sim" and r.cycles > 0 and r.cube_utilisation > 0 for r in gemms)
    assert prof.table().splitlines()[1].split()[0] in {r.op for r in prof.records}
    opt = framework.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = ((model(xn) - yn) * (model(xn) - yn)).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[2] < losses[0]


def _conv_reference(x, w, g, **kw):
    """conv2d and both its gradients in float64 on fp16-rounded operands (the cube's numerics, one rounding)."""
    F = framework.nn.functional
    xr, wr = (framework.tensor(a.astype(np.float16).astype(np.float64), requires_grad=True) for a in (x, w))
    F.conv2d(xr, wr, **kw).backward(framework.tensor(g.astype(np.float16).astype(np.float64)))
    y = F.conv2d(xr.detach(), wr.detach(), **kw)
    return y.numpy(), xr.grad.numpy(), wr.grad.numpy()


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, padding=(1, 0), dilation=(1, 2))])
def test_conv2d_and_its_gradients_run_on_the_cube(kw):
    x, w = _rand(2, 3, 9, 8, seed=14), _rand(5, 3, 3, 2, seed=15)
    xn, wn = (framework.tensor(a).npu().requires_grad_() for a in (x, w))
    with framework.npu.profile() as prof:
        y = framework.nn.functional.conv2d(xn, wn, **kw)
        g = _rand(*y.shape, seed=16)
        y.backward(framework.tensor(g).npu())
    ref_y, ref_gx, ref_gw = _conv_reference(x, w, g, **kw)
    assert y.device.type == "npu" and y.dtype is framework.float32 and xn.grad.device.type == "npu"
    np.testing.assert_allclose(y.detach().cpu().numpy(), ref_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xn.grad.cpu().numpy(), ref_gx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wn.grad.cpu().numpy(), ref_gw, rtol=1e-5, atol=1e-5)
    ops = {r.op: r for r in prof.records}
    assert {"conv", "conv_transpose", "conv_weight"} <= set(ops)
    assert all(ops[op].cube_utilisation > 0 and ops[op].busy.get("M", 0) > 0
               for op in ("conv", "conv_transpose", "conv_weight"))


def test_conv2d_half_rounds_once():
    x, w = _rand(1, 4, 6, 6, seed=17), _rand(3, 4, 3, 3, seed=18)
    y = framework.nn.functional.conv2d(framework.tensor(x).half().npu(), framework.tensor(w).half().npu())
    assert y.dtype is framework.float16
    np.testing.assert_array_equal(y.cpu().numpy(), _conv_reference(x, w, np.zeros((1, 3, 4, 4)))[0].astype(np.float16))


def test_conv_cases_the_cube_lacks_name_op_and_device(host_fallback):
    F = framework.nn.functional
    framework.npu.set_host_fallback(False)
    x3, w3 = framework.ones(1, 2, 3, 4, 4).npu(), framework.ones(3, 2, 2, 2, 2).npu()
    with pytest.raises(NotImplementedError, match=r"'conv'.*'npu'.*3 spatial"):
        F.conv3d(x3, w3)
    x = framework.ones(1, 4, 5, 5).npu()
    with pytest.raises(NotImplementedError, match=r"'conv'.*'npu'.*float64"):
        F.conv2d(x.double(), framework.ones(3, 4, 3, 3, dtype=framework.float64).npu())
    framework.npu.set_host_fallback(True)
    with pytest.warns(UserWarning, match="'conv'.*host"):
        out = F.conv3d(x3, w3)
    np.testing.assert_array_equal(out.cpu().numpy(), F.conv3d(x3.cpu(), w3.cpu()).numpy())


def test_layer_norm_runs_forward_and_backward_without_fallback():
    x, w, b = _rand(6, 20, seed=19), _rand(20, seed=20), _rand(20, seed=21)
    F = framework.nn.functional
    ref = [framework.tensor(a, requires_grad=True) for a in (x, w, b)]
    (F.layer_norm(ref[0], (20,), ref[1], ref[2]) ** 2).sum().backward()
    npu = [framework.tensor(a).npu().requires_grad_() for a in (x, w, b)]
    with framework.npu.profile() as prof:
        y = F.layer_norm(npu[0], (20,), npu[1], npu[2])
        (y ** 2).sum().backward()
    assert not [r for r in prof.records if r.model == "host"]
    assert {"rsqrt", "pow"} <= {r.op for r in prof.records}
    np.testing.assert_allclose(y.detach().cpu().numpy(), F.layer_norm(framework.tensor(x), (20,), ref[1].detach(),
                                                                       ref[2].detach()).numpy(), rtol=1e-5, atol=1e-5)
    for a, r in zip(npu, ref):
        np.testing.assert_allclose(a.grad.cpu().numpy(), r.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_vector_math_and_pow_exponents():
    x = framework.tensor(np.abs(_rand(4, 30, seed=22)) + 0.5)
    xn = x.npu()
    for f in (lambda a: a.sqrt(), lambda a: a.rsqrt(), lambda a: a.reciprocal(), lambda a: a.log(),
              lambda a: (-a).abs(), lambda a: a ** 3, lambda a: a ** -2, lambda a: a ** 0.5, lambda a: a ** -0.5):
        np.testing.assert_allclose(f(xn).cpu().numpy(), f(x).numpy(), rtol=1e-6)
    with pytest.raises(NotImplementedError, match=r"'pow'.*'npu'.*1.5"):
        xn ** 1.5


def test_profile_chip_estimate_and_timeline(tmp_path):
    x = framework.tensor(_rand(40, 50, seed=23)).npu()
    with framework.npu.profile() as prof:
        (x @ x.T).softmax(1).exp()
    est = prof.chip_estimate()
    assert set(est.per_op) == {"matmul", "softmax", "exp"} and est.host_fallbacks == 0
    assert est.seconds == pytest.approx(sum(r.cycles for r in prof.records) / est.clock_hz)
    assert all(r.busy.get("MTE2", 0) > 0 for r in prof.records)
    pytest.importorskip("matplotlib")
    path = prof.timeline(tmp_path / "timeline.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def _train_with(device, make_optimizer, steps=3):
    """An MLP's parameters after ``steps`` updates on ``device``, from fixed gradients and the same start."""
    framework.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 3)).to(device)
    opt = make_optimizer(model.parameters())
    for k in range(steps):
        opt.zero_grad()
        for i, p in enumerate(model.parameters()):
            p.grad = framework.tensor(_rand(*p.shape, seed=10 * k + i)).to(device)
        opt.step()
    return [p.detach().cpu().numpy() for p in model.parameters()]


@pytest.mark.parametrize("make", [
    lambda ps: framework.optim.Adam(ps, lr=0.01),
    lambda ps: framework.optim.Adam(ps, lr=0.01, betas=(0.3, 0.9), weight_decay=0.1, amsgrad=True, maximize=True),
    lambda ps: framework.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    lambda ps: framework.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: framework.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.3, maximize=True),
    lambda ps: framework.optim.RMSprop(ps, lr=0.01, alpha=0.3, centered=True, momentum=0.9, weight_decay=0.1),
    lambda ps: framework.optim.RMSprop(ps, lr=0.01, maximize=True),
    lambda ps: framework.optim.Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5),
    lambda ps: framework.optim.Adadelta(ps, lr=1.0, rho=0.3, weight_decay=0.1, maximize=True),
])
def test_optimizer_updates_run_as_vector_programs_and_match_cpu(make):
    with framework.npu.profile() as prof:
        on_npu = _train_with("npu", make)
    assert {r.model for r in prof.records} == {"sim"}
    for a, b in zip(on_npu, _train_with("cpu", make)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_mlp_trains_with_adam_on_npu_without_fallback():
    framework.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 3)).npu()
    x, y = framework.tensor(_rand(16, 12, seed=12)).npu(), framework.tensor(_rand(16, 3, seed=13)).npu()
    opt = framework.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    with framework.npu.profile() as prof:
        for _ in range(3):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert "adam_update" in {r.op for r in prof.records} and not [r for r in prof.records if r.model == "host"]
    assert losses[2] < losses[0]


def test_optimizer_update_of_half_parameters_names_op_and_device():
    p = framework.zeros(4, dtype=framework.float16).npu().requires_grad_()
    p.grad = framework.ones(4, dtype=framework.float16).npu()
    with pytest.raises(NotImplementedError, match=r"'adam_update'.*'npu'.*float16"):
        framework.optim.Adam([p]).step()


@pytest.mark.parametrize("shape", [(7,), (16, 3), (5, 200), (3, 40, 130), (700, 70)])
def test_sum_and_mean_over_the_last_dim_are_vector_programs(shape):
    x = _rand(*shape, seed=24)
    xn = framework.tensor(x).npu()
    with framework.npu.profile() as prof:
        for keepdim in (False, True):
            for op in ("sum", "mean"):
                out = getattr(xn, op)(-1, keepdim=keepdim).cpu().numpy()
                ref = getattr(np, op)(x.astype(np.float64), -1, keepdims=keepdim)
                assert out.dtype == np.float32 and out.shape == ref.shape
                np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    assert {r.model for r in prof.records} == {"sim"}


def test_fill_is_a_vector_dup_program():
    with framework.npu.profile() as prof:
        x = framework.zeros(3, 70).npu().fill_(1.5)
        h = framework.zeros(5, dtype=framework.float16).npu().fill_(0.1)
    assert [r.model for r in prof.records if r.op == "fill"] == ["sim", "sim"]
    np.testing.assert_array_equal(x.cpu().numpy(), np.full((3, 70), 1.5, np.float32))
    np.testing.assert_array_equal(h.cpu().numpy(), np.full(5, 0.1, np.float16))
    with pytest.raises(NotImplementedError, match=r"'fill'.*'npu'.*int64"):
        framework.zeros(2, dtype=framework.int64).npu().fill_(1)
