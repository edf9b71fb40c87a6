"""Pooling, argmax and the compare/select instructions on the simulated NPU; small CNNs training there without the
host fallback."""
import numpy as np
import pytest

import framework
import framework.nn as nn
import framework.nn.functional as F
from kernels.npu import pooling as npu_pooling
from npu_sim import Machine, ascend910

torch = pytest.importorskip("torch")


pytestmark = pytest.mark.usefixtures("npu_without_fallback")


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_compare_and_select_instructions():
    """vcmpv_* give 1/0 masks (NaN unordered), vsel picks by mask; both cost head + 2 cycles per repeat."""
    cfg = ascend910()
    m = Machine(cfg)
    x = np.array([[1.0, np.nan, 3.0, -np.inf] * 16], np.float32)
    y = np.array([[1.0, np.nan, 2.0, 0.0] * 16], np.float32)
    gx, gy = m.tensor(x, "fp32"), m.tensor(y, "fp32")
    outs = {mode: m.empty(1, 64, "fp32") for mode in ("lt", "le", "gt", "ge", "eq", "ne")}
    gsel = m.empty(1, 64, "fp32")
    p = m.program()
    tx, ty, tm = (p.alloc_tile("UB", 1, 64, "fp32") for _ in range(3))
    p.copy_gm_to_ubuf(tx, gx)
    p.copy_gm_to_ubuf(ty, gy)
    p.pipe_barrier("ALL")
    for mode, g in outs.items():
        ins = p.vector_repeat(f"vcmpv_{mode}", tm, tx, ty, repeat=1)
        assert ins.cycles == cfg.vector_head + cfg.vector_cycles_binary
        p.pipe_barrier("ALL")
        p.copy_ubuf_to_gm(g, tm)
        p.pipe_barrier("ALL")
    p.vector_repeat("vcmpv_gt", tm, tx, ty, repeat=1)
    sel = p.vector("vsel", tx, tm, tx, ty)
    assert sel.cycles == cfg.vector_head + cfg.vector_cycles_binary
    p.pipe_barrier("ALL")
    p.copy_ubuf_to_gm(gsel, tx)
    m.run(p)
    with np.errstate(invalid="ignore"):
        for mode, g in outs.items():
            expect = getattr(np, {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
                                  "eq": "equal", "ne": "not_equal"}[mode])(x, y)
            np.testing.assert_array_equal(m.read(g), expect.astype(np.float32))
    np.testing.assert_array_equal(m.read(gsel), np.where(x > y, x, y))


MAX_CASES = [  # kernel, stride, padding, dilation, ceil_mode
    (2, 2, 0, 1, False), (3, 2, 1, 1, False), ((3, 2), (1, 2), (1, 1), (2, 1), True), (3, 3, 1, 1, True)]


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", MAX_CASES)
def test_max_pool2d_values_indices_and_grad_equal_cpu(kernel, stride, padding, dilation, ceil_mode):
    x = _rand(3, 30, 11, 10, seed=1)
    x[0, 0, 0, 0] = x[1, 3, 4, 4] = x[1, 3, 4, 5] = np.nan     # last NaN of a window wins
    x[2, 5, :5, :5] = -np.inf                                 # all -inf windows: first cell inside
    x[2, 6, 2:6, 2:6] = 7.0                                   # ties: first maximum
    args = (kernel, stride, padding, dilation, ceil_mode)
    xc = framework.tensor(x)
    xn = framework.tensor(x).npu().requires_grad_()
    with framework.npu.profile() as prof:
        v, i = F.max_pool2d(xn, *args, return_indices=True)
    cv, ci = F.max_pool2d(xc, *args, return_indices=True)
    np.testing.assert_array_equal(v.detach().cpu().numpy(), cv.numpy())
    np.testing.assert_array_equal(i.cpu().numpy(), ci.numpy())
    tv, ti = torch.nn.functional.max_pool2d(torch.tensor(x), *args, return_indices=True)
    np.testing.assert_array_equal(i.cpu().numpy(), ti.numpy())
    assert {r.model for r in prof.records} == {"sim+analytic"}
    g = _rand(*v.shape, seed=2)
    v.backward(framework.tensor(g).npu())
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, *args).backward(torch.tensor(g))
    np.testing.assert_allclose(xn.grad.cpu().numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_max_pool1d_and_adaptive_max_grad_on_npu():
    x = _rand(2, 5, 17, seed=3)
    xn = framework.tensor(x).npu().requires_grad_()
    out = F.max_pool1d(xn, 3, 2, 1)
    np.testing.assert_array_equal(out.detach().cpu().numpy(), torch.nn.functional.max_pool1d(torch.tensor(x), 3, 2, 1).numpy())
    out.sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool1d(xt, 3, 2, 1).sum().backward()
    np.testing.assert_array_equal(xn.grad.cpu().numpy(), xt.grad.numpy())
    # adaptive windows have no stride: pool_scatter finds the offsets it must run from the indices
    x2 = _rand(2, 3, 10, 7, seed=4)
    g = _rand(2, 3, 4, 3, seed=5)
    _, idx = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x2), (4, 3), return_indices=True)
    got = npu_pooling.KERNELS["pool_scatter"](g, idx.numpy(), (10, 7))
    xt = torch.tensor(x2, requires_grad=True)
    torch.nn.functional.adaptive_max_pool2d(xt, (4, 3)).backward(torch.tensor(g))
    np.testing.assert_allclose(got, xt.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode, include, divisor", [
    (2, 2, 0, False, True, None), (3, 2, 1, True, False, None), ((3, 2), (2, 1), (1, 0), False, True, 5)])
def test_avg_pool2d_values_and_grad_equal_cpu(kernel, stride, padding, ceil_mode, include, divisor):
    x = _rand(2, 70, 9, 8, seed=6)
    args = (kernel, stride, padding, ceil_mode, include, divisor)
    xn = framework.tensor(x).npu().requires_grad_()
    out = F.avg_pool2d(xn, *args)
    np.testing.assert_array_equal(out.detach().cpu().numpy(), F.avg_pool2d(framework.tensor(x), *args).numpy())
    xt = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.avg_pool2d(xt, *args)
    np.testing.assert_allclose(out.detach().cpu().numpy(), ref.detach().numpy(), rtol=1e-6, atol=1e-6)
    g = _rand(*out.shape, seed=7)
    out.backward(framework.tensor(g).npu())
    ref.backward(torch.tensor(g))
    xc = framework.tensor(x).requires_grad_()
    F.avg_pool2d(xc, *args).backward(framework.tensor(g))
    np.testing.assert_array_equal(xn.grad.cpu().numpy(), xc.grad.numpy())
    np.testing.assert_allclose(xn.grad.cpu().numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_argmax_first_maximum_and_first_nan():
    y = _rand(40, 10, seed=8)
    y[3, 4] = y[3, 7] = np.nan
    y[5, 2] = y[5, 6] = 100.0
    yn = framework.tensor(y).npu()
    with framework.npu.profile() as prof:
        np.testing.assert_array_equal(yn.argmax(1).cpu().numpy(), torch.tensor(y).argmax(1).numpy())
    assert prof.records[-1].op == "argmax" and prof.records[-1].model == "sim+analytic"
    z = y[:, :6].copy()
    np.testing.assert_array_equal(framework.tensor(z).npu().argmax(0, keepdim=True).cpu().numpy(),
                                  torch.tensor(z).argmax(0, keepdim=True).numpy())
    assert int(framework.tensor(z[:8]).npu().argmax()) == int(torch.tensor(z[:8]).argmax())


def test_unsupported_pooling_names_op_and_device():
    with pytest.raises(NotImplementedError, match="'max_pool'.*npu"):
        F.max_pool3d(framework.randn(1, 2, 4, 4, 4).npu(), 2)
    with pytest.raises(NotImplementedError, match="'avg_pool'.*npu"):
        F.avg_pool2d(framework.randn(1, 2, 4, 4, dtype=framework.float64).npu(), 2)


class _LeNetish(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 8, 3)
        self.fc = nn.Linear(8 * 3 * 3, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.avg_pool2d(F.relu(self.c2(x)), 2)
        return self.fc(x.flatten(1))


class _ResBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
        self.c2, self.b2 = nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        h = F.relu(self.b1(self.c1(x)))
        h = F.relu(self.b2(self.c2(h)) + h)
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


def _train(make, device, x, y, opt, steps=3):
    framework.manual_seed(0)
    net = make().to(device)
    optimizer = opt(net.parameters())
    losses = []
    x, y = framework.tensor(x).to(device), framework.tensor(y).to(device)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    return losses, [p.detach().cpu().numpy() for p in net.parameters()]


@pytest.mark.parametrize("make, shape, classes, opt, ops", [
    (_LeNetish, (8, 1, 16, 16), 10, lambda ps: framework.optim.Adam(ps, lr=1e-2),
     {"max_pool", "pool_scatter", "avg_pool", "avg_pool_backward"}),
    (_ResBlock, (4, 3, 8, 8), 4, lambda ps: framework.optim.SGD(ps, lr=0.1, momentum=0.9), {"conv", "sgd_update"})])
def test_cnns_train_on_npu_without_host_fallback(make, shape, classes, opt, ops):
    x = _rand(*shape, seed=9)
    y = (np.arange(shape[0]) % classes).astype(np.int64)
    with framework.npu.profile() as prof:
        npu_losses, npu_params = _train(make, "npu", x, y, opt)
    assert "host" not in {r.model for r in prof.records}
    assert ops <= {r.op for r in prof.records}
    cpu_losses, cpu_params = _train(make, "cpu", x, y, opt)
    assert npu_losses[-1] < npu_losses[0]
    np.testing.assert_allclose(npu_losses, cpu_losses, rtol=2e-3, atol=2e-3)   # fp16 cube inputs
    for a, b in zip(npu_params, cpu_params):
        np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-3)
