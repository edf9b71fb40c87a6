"""Ops, models and device semantics on "cuda" against the same on "cpu"; skipped without a usable GPU.

Run on a GPU machine with ``python -m pytest tests/framework/cuda -q``. Every test runs the same function
on both devices and compares (the CPU backend is itself checked against PyTorch by the rest of the suite).
"""
import io
import warnings

import numpy as np
import pytest

import framework
import framework.nn as nn
import framework.nn.functional as F

pytestmark = pytest.mark.skipif(not framework.cuda.is_available(), reason="needs CuPy and a CUDA GPU")

TOL = {framework.float32: dict(rtol=1e-4, atol=1e-5), framework.float64: dict(rtol=1e-10, atol=1e-12)}


def _on(device, fn, *arrays, dtype=framework.float32, grad=True):
    """``fn`` on tensors made from ``arrays`` on ``device``: (output values, input gradients) as numpy."""
    inputs = [framework.tensor(a, dtype=dtype if a.dtype.kind == "f" else None, device=device,
                               requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    out = fn(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    grads = []
    if grad and outs[0].requires_grad:
        (outs[0].float() * framework.linspace(-1, 1, outs[0].numel(), device=device).reshape(outs[0].shape)).sum() \
            .backward()
        grads = [t.grad.cpu().numpy() for t in inputs if t.requires_grad]
    return [o.detach().cpu().numpy() for o in outs], grads


def _same(fn, *arrays, dtype=framework.float32, grad=True):
    got, got_grads = _on("cuda", fn, *arrays, dtype=dtype, grad=grad)
    want, want_grads = _on("cpu", fn, *arrays, dtype=dtype, grad=grad)
    for g, w in zip(got + got_grads, want + want_grads):
        np.testing.assert_allclose(g, w, **TOL[dtype]) if g.dtype.kind == "f" else np.testing.assert_array_equal(g, w)


def _ones_like_weight(x, o, i):
    return framework.ones(o, i, 3, 3, device=x.device, dtype=x.dtype) * 0.1


rng = np.random.default_rng(0)
A = rng.standard_normal((4, 6, 5))
B = rng.standard_normal((4, 5, 3))
IMG = rng.standard_normal((2, 3, 10, 9))

OPS = {
    "elementwise": (lambda x: (x.exp() * x.sin() + x.tanh() / (x.abs() + 1)).sigmoid().erf(), A),
    "broadcast": (lambda x, y: x[..., :3] * y[:, :1, :] - y.mean(), A, B),
    "reductions": (lambda x: x.sum(1) + x.amax(1) + x.std(1) + x.logsumexp(1), A),
    "matmul": (lambda x, y: x @ y, A, B),
    "softmax": (lambda x: x.softmax(1) + x.log_softmax(-1)[:, :, :1], A),
    "layer_norm": (lambda x: F.layer_norm(x, (5,)), A),
    "conv2d": (lambda x: F.conv2d(x, _ones_like_weight(x, 4, 3), stride=2, padding=1), IMG),
    "conv_transpose2d": (lambda x: F.conv_transpose2d(x, _ones_like_weight(x, 3, 2), stride=2), IMG),
    "max_pool": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), IMG),
    "avg_pool": (lambda x: F.avg_pool2d(x, 2, ceil_mode=True) + 0, IMG),
    "adaptive_avg_pool": (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), IMG),
    "indexing": (lambda x: x[:, [0, 2, 2]].sum() + x[x > 0].sum() + x.gather(2, framework.zeros(
        4, 6, 2, dtype=framework.int64, device=x.device)).sum(), A),
    "sort_topk": (lambda x: x.sort(-1)[0] + x.topk(5, -1)[0], A),
    "cumsum": (lambda x: x.cumsum(1) + x.cumprod(2), A),
    "cat_stack": (lambda x, y: framework.cat([x.flatten(), y.flatten()]).reshape(-1, 2).flip(0), A, B),
}


@pytest.mark.parametrize("dtype", [framework.float32, framework.float64])
@pytest.mark.parametrize("name", sorted(OPS))
def test_op_matches_cpu(name, dtype):
    fn, *arrays = OPS[name]
    _same(fn, *arrays, dtype=dtype)


def test_embedding_and_cross_entropy_backward():
    weight = rng.standard_normal((10, 4))
    tokens = np.array([[1, 2, 2, 9], [0, 1, 1, 1]])
    target = np.array([3, 1])
    _same(lambda w, t, y: F.cross_entropy(F.embedding(t, w).sum(1), y, label_smoothing=0.1), weight, tokens, target)


def _train(device, optimizer):
    framework.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.0), nn.Linear(8 * 5 * 4, 5)).to(device)
    opt = optimizer(model.parameters())
    x = framework.tensor(IMG, dtype=framework.float32, device=device)
    y = framework.tensor([1, 3], device=device)
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return loss.item(), [p.detach().cpu().numpy() for p in model.parameters()]


OPTIMIZERS = [
    lambda p: framework.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    lambda p: framework.optim.Adam(p, lr=1e-2, amsgrad=True),
    lambda p: framework.optim.AdamW(p, lr=1e-2),
    lambda p: framework.optim.RMSprop(p, lr=1e-3, centered=True, momentum=0.5),
    lambda p: framework.optim.Adagrad(p, lr=0.1),
    lambda p: framework.optim.Adadelta(p)]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_training_steps_match_cpu(optimizer):
    loss_gpu, params_gpu = _train("cuda", optimizer)
    loss_cpu, params_cpu = _train("cpu", optimizer)
    assert abs(loss_gpu - loss_cpu) < 1e-4
    for g, w in zip(params_gpu, params_cpu):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4)


def test_device_semantics():
    x = framework.arange(6.0).reshape(2, 3)
    g = x.cuda()
    assert g.device == framework.device("cuda:0") and g.is_cuda and g.get_device() == 0
    assert x.to("cuda").device == framework.device("cuda", 0)
    assert g.to("cuda:0") is g
    np.testing.assert_array_equal(g.cpu().numpy(), x.numpy())
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu()"):
        g.numpy()
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        g + x
    assert (g * 2).sum().item() == 30.0
    assert repr(g) == "tensor([[0., 1., 2.],\n        [3., 4., 5.]], device='cuda:0')"
    g.add_(1)
    g[0, 0] = 7
    np.testing.assert_array_equal(g.cpu().numpy(), [[7, 2, 3], [4, 5, 6]])
    h = g.bfloat16()
    assert h.device == g.device and h.float().cpu().tolist() == [[7, 2, 3], [4, 5, 6]]
    model = nn.Linear(3, 2).cuda()
    assert all(p.device.type == "cuda" for p in model.parameters())


def test_save_and_load_with_map_location():
    model = nn.Linear(3, 2).cuda()
    buffer = io.BytesIO()
    framework.save({"state": model.state_dict(), "t": framework.ones(2, device="cuda")}, buffer)
    buffer.seek(0)
    on_gpu = framework.load(buffer)
    assert on_gpu["t"].device.type == "cuda"
    buffer.seek(0)
    on_cpu = framework.load(buffer, map_location="cpu")
    assert on_cpu["t"].device.type == "cpu"
    np.testing.assert_array_equal(on_cpu["state"]["weight"].numpy(), model.weight.detach().cpu().numpy())


def test_memory_statistics():
    cuda = framework.cuda
    cuda.synchronize()
    cuda.empty_cache()
    cuda.reset_peak_memory_stats()
    before = cuda.memory_allocated()
    big = framework.zeros(1024, 1024, device="cuda")
    assert cuda.memory_allocated() >= before + 4 * 1024 * 1024
    del big
    assert cuda.max_memory_allocated() >= before + 4 * 1024 * 1024
    assert cuda.memory_reserved() >= cuda.memory_allocated()
    assert isinstance(cuda.get_device_name(), str) and cuda.device_count() >= 1
    cuda.manual_seed_all(0)


def test_host_fallback_is_visible():
    x = framework.rand(5, device="cuda") + 0.5
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = framework.special.i0(x)
    np.testing.assert_allclose(y.cpu().numpy(), framework.special.i0(x.cpu()).numpy(), rtol=1e-6)
    assert y.device.type == "cuda"
    assert any("runs on the CPU" in str(w.message) for w in caught) or "special_i0" in _warned()


def _warned():
    from kernels.cuda._host import _warned
    return _warned
