"""Optimizers against PyTorch: 20-step trajectories for every optimizer and option, state dicts, errors, LBFGS."""
import copy

import numpy as np
import pytest

import framework

torch = pytest.importorskip("torch")

_rng = np.random.default_rng(0)
INIT = [_rng.standard_normal((5, 4)).astype(np.float32), _rng.standard_normal(4).astype(np.float32)]
NOISE = [[_rng.standard_normal(a.shape).astype(np.float32) for a in INIT] for _ in range(20)]

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-3, decoupled_weight_decay=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.5, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, alpha=0.3)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, eps=1e-3, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1, maximize=True)),
]
ALL = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"]


def _params(mod, dtype="float32", transposed=False):
    out = []
    for a in INIT:
        a = a.astype(dtype)
        if transposed and a.ndim == 2:
            t = mod.tensor(np.ascontiguousarray(a.T)).t()  # a non-contiguous leaf
            out.append(t.detach().requires_grad_())
        else:
            out.append(mod.tensor(a, requires_grad=True))
    return out


def _set_grads(mod, params, k):
    for p, n in zip(params, NOISE[k]):
        value = n + 0.5 * p.detach().float().numpy()  # the gradient depends on where the optimizer has moved p
        p.grad = mod.tensor(value.astype(str(p.dtype).split(".")[1]))


def _trajectory(mod, name, kwargs, steps=20, groups=False, **param_kw):
    params = _params(mod, **param_kw)
    spec = [{"params": [params[0]]}, {"params": [params[1]], "lr": 0.03}] if groups else params
    opt = getattr(mod.optim, name)(spec, **kwargs)
    for k in range(steps):
        _set_grads(mod, params, k)
        opt.step()
    return [p.detach().float().numpy() for p in params], opt


def _close(ours, theirs, rtol=1e-5, atol=1e-6):
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, kwargs):
    ours, _ = _trajectory(framework, name, kwargs)
    theirs, _ = _trajectory(torch, name, kwargs)
    _close(ours, theirs)


@pytest.mark.parametrize("name", ALL)
def test_param_groups_with_different_lrs(name):
    ours, opt = _trajectory(framework, name, {}, groups=True)
    theirs, _ = _trajectory(torch, name, {}, groups=True)
    _close(ours, theirs)
    assert [g["lr"] for g in opt.param_groups][1] == 0.03


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_float64_and_non_contiguous_params(name):
    kwargs = {"lr": 0.01, "momentum": 0.9} if name != "Adam" else {"amsgrad": True}
    _close(_trajectory(framework, name, kwargs, dtype="float64")[0],
           _trajectory(torch, name, kwargs, dtype="float64")[0], rtol=1e-12, atol=1e-12)
    _close(_trajectory(framework, name, kwargs, transposed=True)[0],
           _trajectory(torch, name, kwargs, transposed=True)[0])


def test_float16_params_follow_torch():
    ours = _trajectory(framework, "Adam", {"lr": 0.01}, steps=5, dtype="float16")[0]
    theirs = _trajectory(torch, "Adam", {"lr": 0.01}, steps=5, dtype="float16")[0]
    _close(ours, theirs, rtol=5e-3, atol=5e-3)


def test_bfloat16_params_update():
    p = framework.ones(4, dtype=framework.bfloat16, requires_grad=True)
    p.grad = framework.ones(4, dtype=framework.bfloat16)
    framework.optim.SGD([p], lr=0.5).step()
    assert p.dtype is framework.bfloat16
    np.testing.assert_array_equal(p.float().detach().numpy(), np.full(4, 0.5, np.float32))


def test_params_without_grad_are_skipped_and_get_no_state():
    a, b = _params(framework)
    before = b.detach().numpy().copy()
    opt = framework.optim.Adam([a, b])
    a.grad = framework.ones(a.shape)
    opt.step()
    np.testing.assert_array_equal(b.detach().numpy(), before)
    assert b not in opt.state and a in opt.state


def test_state_layout_step_tensor_and_versions():
    p = framework.ones(3, requires_grad=True)
    opt = framework.optim.Adam([p], amsgrad=True)
    version = p._version
    p.grad = framework.ones(3)
    opt.step()
    opt.step()
    state = opt.state[p]
    assert sorted(state) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert state["step"].dtype is framework.float32 and state["step"].shape == () and state["step"].item() == 2.0
    assert p._version == version + 2


def test_state_dict_structure_matches_torch():
    _, ours = _trajectory(framework, "SGD", {"momentum": 0.9}, steps=3, groups=True)
    _, theirs = _trajectory(torch, "SGD", {"momentum": 0.9}, steps=3, groups=True)
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert sd["state"].keys() == tsd["state"].keys()
    for k in tsd["state"]:
        assert sd["state"][k].keys() == tsd["state"][k].keys()
        np.testing.assert_allclose(sd["state"][k]["momentum_buffer"].numpy(),
                                   tsd["state"][k]["momentum_buffer"].numpy(), rtol=1e-6)


def _torch_state_to_ours(sd):
    def conv(v):
        if isinstance(v, torch.Tensor):
            return framework.tensor(v.detach().numpy().copy())
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v
    return conv(sd)


@pytest.mark.parametrize("name,kwargs", [("Adam", {"amsgrad": True, "weight_decay": 0.1}), ("SGD", {"momentum": 0.9}),
                                         ("RMSprop", {"centered": True, "momentum": 0.5}), ("Adagrad", {}),
                                         ("AdamW", {}), ("Adadelta", {})])
def test_load_torch_state_dict_then_continue(name, kwargs):
    _, topt = _trajectory(torch, name, kwargs, steps=10, groups=True)
    tparams = [p for g in topt.param_groups for p in g["params"]]
    params = [framework.tensor(p.detach().numpy().copy(), requires_grad=True) for p in tparams]
    opt = getattr(framework.optim, name)([{"params": [params[0]]}, {"params": [params[1]]}], **kwargs)
    opt.load_state_dict(_torch_state_to_ours(topt.state_dict()))
    assert opt.param_groups[1]["lr"] == 0.03
    for k in range(10, 20):
        _set_grads(framework, params, k)
        _set_grads(torch, tparams, k)
        opt.step()
        topt.step()
    _close([p.detach().numpy() for p in params], [p.detach().numpy() for p in tparams])


def test_state_dict_round_trip():
    params = _params(framework)
    opt = framework.optim.AdamW(params, lr=0.01)
    for k in range(5):
        _set_grads(framework, params, k)
        opt.step()
    copies = [framework.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    opt2 = framework.optim.AdamW(copies, lr=0.5)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))  # as saving and loading would: no shared state
    assert opt2.param_groups[0]["lr"] == 0.01
    for k in range(5, 10):
        _set_grads(framework, params, k)
        opt.step()
        _set_grads(framework, copies, k)
        opt2.step()
    _close([p.detach().numpy() for p in copies], [p.detach().numpy() for p in params], rtol=0, atol=0)


def test_load_state_dict_mismatch_errors():
    opt = framework.optim.SGD(_params(framework), lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict({"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]})


def test_zero_grad():
    p = framework.ones(3, requires_grad=True)
    opt = framework.optim.SGD([p], lr=0.1)
    p.grad = framework.ones(3)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), np.zeros(3, np.float32))
    opt.zero_grad()
    assert p.grad is None


def test_closure_hooks_and_repr():
    p = framework.ones(2, requires_grad=True)
    opt = framework.optim.SGD([p], lr=0.1)
    calls = []

    def closure():
        assert framework.is_grad_enabled()
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss
    pre = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    loss = opt.step(closure)
    assert loss.item() == 2.0 and calls == ["pre", "post"]
    np.testing.assert_allclose(p.detach().numpy(), [0.8, 0.8])
    pre.remove()
    opt.step(closure)
    assert calls == ["pre", "post", "post"]
    assert repr(opt) == repr(torch.optim.SGD([torch.ones(2, requires_grad=True)], lr=0.1))


BAD_ARGS = [
    ("SGD", dict(lr=-1)), ("SGD", dict(momentum=-0.5)), ("SGD", dict(weight_decay=-1)),
    ("SGD", dict(nesterov=True)), ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1)),
    ("Adam", dict(lr=-1)), ("Adam", dict(eps=-1)), ("Adam", dict(betas=(1.0, 0.9))), ("Adam", dict(betas=(0.9, -1.0))),
    ("Adam", dict(weight_decay=-1)), ("Adam", dict(betas=(0, 0.9))), ("AdamW", dict(lr=-0.1)),
    ("RMSprop", dict(lr=-1)), ("RMSprop", dict(alpha=-1)), ("RMSprop", dict(eps=-1)), ("RMSprop", dict(momentum=-1)),
    ("Adagrad", dict(lr_decay=-1)), ("Adagrad", dict(initial_accumulator_value=-1)), ("Adagrad", dict(eps=-1)),
    ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(lr=-1)), ("LBFGS", dict(lr=-1)),
]


@pytest.mark.parametrize("name,kwargs", BAD_ARGS)
def test_bad_arguments_raise_like_torch(name, kwargs):
    with pytest.raises(Exception) as theirs:
        getattr(torch.optim, name)([torch.ones(1, requires_grad=True)], **kwargs)
    with pytest.raises(type(theirs.value)) as ours:
        getattr(framework.optim, name)([framework.ones(1, requires_grad=True)], **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_bad_params_raise_like_torch():
    p = framework.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        framework.optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        framework.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        framework.optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        framework.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        framework.optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        framework.optim.LBFGS([{"params": [p]}, {"params": [framework.ones(1, requires_grad=True)]}])


@pytest.mark.parametrize("name,flag", [("Adam", "capturable"), ("Adam", "differentiable"), ("SGD", "differentiable"),
                                       ("RMSprop", "capturable"), ("Adadelta", "differentiable"),
                                       ("AdamW", "capturable"), ("Adagrad", "differentiable")])
def test_unsupported_flags_raise(name, flag):
    with pytest.raises(NotImplementedError, match=flag):
        getattr(framework.optim, name)([framework.ones(1, requires_grad=True)], **{flag: True})


def test_foreach_and_fused_are_accepted():
    ours = _trajectory(framework, "Adam", {"fused": True}, steps=5)[0]
    _close(ours, _trajectory(torch, "Adam", {}, steps=5)[0])
    _close(_trajectory(framework, "SGD", {"foreach": True}, steps=5)[0], _trajectory(torch, "SGD", {}, steps=5)[0])


def _rosenbrock_lbfgs(mod, dtype, steps, **kwargs):
    xy = mod.tensor(np.array([-1.5, 2.0], dtype=dtype), requires_grad=True)
    opt = mod.optim.LBFGS([xy], **kwargs)

    def closure():
        opt.zero_grad()
        x, y = xy[0], xy[1]
        loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
        loss.backward()
        return loss
    losses = [opt.step(closure).item() for _ in range(steps)]
    return xy.detach().numpy(), losses, opt.state[xy]["func_evals"]


@pytest.mark.parametrize("kwargs", [dict(lr=0.5, max_iter=5), dict(line_search_fn="strong_wolfe"),
                                    dict(line_search_fn="strong_wolfe", history_size=3, max_iter=7)])
def test_lbfgs_rosenbrock_matches_torch(kwargs):
    ours = _rosenbrock_lbfgs(framework, "float64", 4, **kwargs)
    theirs = _rosenbrock_lbfgs(torch, "float64", 4, **kwargs)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5)
    assert ours[2] == theirs[2]


def test_lbfgs_float32_strong_wolfe_converges_like_torch():
    ours = _rosenbrock_lbfgs(framework, "float32", 3, line_search_fn="strong_wolfe")
    theirs = _rosenbrock_lbfgs(torch, "float32", 3, line_search_fn="strong_wolfe")
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours[0], [1.0, 1.0], atol=1e-3)


def test_adam_trains_a_linear_model():
    rng = np.random.default_rng(1)
    x = framework.tensor(rng.standard_normal((64, 3)).astype(np.float32))
    y = x @ framework.tensor(np.array([[1.0], [-2.0], [0.5]], np.float32)) + 0.3
    w = framework.zeros(3, 1, requires_grad=True)
    b = framework.zeros(1, requires_grad=True)
    opt = framework.optim.Adam([w, b], lr=0.1)
    for _ in range(200):
        opt.zero_grad()
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3
