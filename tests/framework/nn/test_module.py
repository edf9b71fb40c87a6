"""Module mechanics against torch: registration, traversal, state_dict, load errors, hooks, conversion, copying."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import framework
import framework.nn as nn

torch = pytest.importorskip("torch")


def _net(lib):
    class Block(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(3, 4)
            self.bn = lib.nn.BatchNorm1d(4)
            self.register_buffer("steps", lib.zeros(1))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)
            self.scale = lib.nn.Parameter(lib.ones(1))

        def forward(self, x):
            return self.bn(self.fc(x)) * self.scale

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.layers = lib.nn.ModuleList([lib.nn.Linear(4, 4), lib.nn.ReLU()])
            self.heads = lib.nn.ModuleDict({"a": lib.nn.Linear(4, 2), "b": lib.nn.Linear(4, 1, bias=False)})
            self.shared = self.layers[0]  # the same module twice
            self.params = lib.nn.ParameterList([lib.nn.Parameter(lib.zeros(2))])
            self.none_child = None

        def forward(self, x):
            h = self.block(x)
            for layer in self.layers:
                h = layer(h)
            return self.heads["a"](h)

    return Net()


def test_traversal_names_match_torch():
    ours, theirs = _net(framework), _net(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in theirs.named_parameters(remove_duplicate=False)]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_modules(remove_duplicate=False)] == \
        [n for n, _ in theirs.named_modules(remove_duplicate=False)]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_parameters(prefix="m", recurse=False)] == \
        [n for n, _ in theirs.named_parameters(prefix="m", recurse=False)]
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))
    assert len(list(ours.modules())) == len(list(theirs.modules()))
    assert repr(ours) == repr(theirs)


def test_state_dict_keys_and_metadata():
    ours, theirs = _net(framework), _net(torch)
    sd_ours, sd_theirs = ours.state_dict(), theirs.state_dict()
    assert isinstance(sd_ours, OrderedDict)
    assert list(sd_ours) == list(sd_theirs)
    assert sd_ours._metadata == sd_theirs._metadata
    assert list(ours.state_dict(prefix="p.")) == list(theirs.state_dict(prefix="p."))
    assert not sd_ours["block.fc.weight"].requires_grad
    assert ours.state_dict(keep_vars=True)["block.fc.weight"] is ours.block.fc.weight


def test_load_state_dict_round_trip_from_torch():
    ours, theirs = _net(framework), _net(torch)
    result = ours.load_state_dict({k: framework.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(framework.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def _error(module, sd, **kwargs):
    with pytest.raises(Exception) as info:
        module.load_state_dict(sd, **kwargs)
    return type(info.value), str(info.value)


def test_load_state_dict_errors_match_torch():
    ours, theirs = nn.Linear(5, 3), torch.nn.Linear(5, 3)
    cases = [
        lambda lib: {"weight": lib.zeros(4, 5), "foo": lib.zeros(1)},
        lambda lib: {"weight": lib.zeros(4, 5), "bias": lib.zeros(3)},
        lambda lib: {"weight": 3, "bias": lib.zeros(3)},
        lambda lib: [1],
        lambda lib: {"weight": lib.zeros(3, 5), "bias": lib.zeros(3), "sub.x": lib.zeros(1)},
    ]
    for case in cases:
        assert _error(ours, case(framework)) == _error(theirs, case(torch))
    result = ours.load_state_dict({"weight": framework.zeros(3, 5), "extra": framework.zeros(1)}, strict=False)
    assert result == theirs.load_state_dict({"weight": torch.zeros(3, 5), "extra": torch.zeros(1)}, strict=False)
    assert repr(result) == "_IncompatibleKeys(missing_keys=['bias'], unexpected_keys=['extra'])"
    assert np.all(ours.weight.detach().numpy() == 0)
    n1, n2 = _net(framework), _net(torch)
    sd1 = {k: framework.tensor(v.numpy()) for k, v in n2.state_dict().items() if "bn" not in k}
    sd2 = {k: v for k, v in n2.state_dict().items() if "bn" not in k}
    assert _error(n1, sd1) == _error(n2, sd2)


def test_load_state_dict_assign():
    lin = nn.Linear(2, 2)
    w, b = framework.ones(2, 2), framework.zeros(2)
    lin.load_state_dict({"weight": w, "bias": b}, assign=True)
    assert isinstance(lin.weight, nn.Parameter) and lin.weight.requires_grad
    assert lin.weight._data is w._data  # assigned, not copied
    keep = lin.weight
    lin.load_state_dict({"weight": framework.full((2, 2), 3.0), "bias": b})
    assert lin.weight is keep and lin.weight[0, 0].item() == 3.0


def test_extra_state_and_state_dict_hooks():
    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.counter = 7

        def get_extra_state(self):
            return {"counter": self.counter}

        def set_extra_state(self, state):
            self.counter = state["counter"]

    m = nn.Sequential(WithExtra())
    sd = m.state_dict()
    assert list(sd) == ["0._extra_state"]
    m2 = nn.Sequential(WithExtra())
    m2[0].counter = 0
    m2.load_state_dict(sd)
    assert m2[0].counter == 7
    seen = []
    m.register_state_dict_post_hook(lambda mod, sd, prefix, meta: seen.append(("post", prefix)))
    m.register_load_state_dict_post_hook(lambda mod, keys: seen.append(("load", list(keys.missing_keys))))
    m.state_dict()
    m.load_state_dict(sd)
    assert seen == [("post", ""), ("load", [])]


def test_registration_errors_match_torch():
    def run(lib, fn):
        lin = lib.nn.Linear(2, 2)
        try:
            fn(lin, lib)
        except Exception as e:
            return type(e), str(e)
        return None

    cases = [
        lambda m, lib: setattr(m, "weight", 3),
        lambda m, lib: m.register_parameter("a.b", None),
        lambda m, lib: m.register_parameter("", None),
        lambda m, lib: m.register_parameter("w2", lib.zeros(2)),
        lambda m, lib: m.register_buffer("weight", lib.zeros(2)),
        lambda m, lib: m.foo,
        lambda m, lib: m.add_module("x", 3),
        lambda m, lib: m.get_submodule("a.b"),
        lambda m, lib: m.get_parameter("foo"),
        lambda m, lib: lib.nn.Sequential(lib.nn.Linear(1, 1)).get_submodule("0.weight"),
        lambda m, lib: m.to(lib.int32),
        lambda m, lib: m.register_buffer("buf", 3),
        lambda m, lib: setattr(lib.nn.Sequential(lib.nn.ReLU()), "0", 5),
        lambda m, lib: m.train("yes"),
        lambda m, lib: lib.nn.Module(1),
        lambda m, lib: lib.nn.Module(x=1),
    ]
    for case in cases:
        assert run(framework, case) == run(torch, case)


def test_attribute_assignment_moves_between_stores():
    m = nn.Module()
    m.x = nn.Parameter(framework.zeros(2))
    assert "x" in m._parameters
    m.x = None
    assert m._parameters["x"] is None and m.x is None
    m.buf = nn.Buffer(framework.ones(2), persistent=False)
    assert "buf" in m._buffers and "buf" in m._non_persistent_buffers_set and "buf" not in m.state_dict()
    m.buf = framework.zeros(3)
    assert m.buf.shape == (3,) and "buf" in m._non_persistent_buffers_set
    m.child = nn.Linear(1, 1)
    assert "child" in m._modules and "child" in dir(m)
    del m.child
    assert "child" not in m._modules
    m.plain = 3
    assert m.plain == 3 and "plain" in m.__dict__
    with pytest.raises(AttributeError, match="cannot assign parameters before Module.__init__"):
        class Bad(nn.Module):
            def __init__(self):
                self.p = nn.Parameter(framework.zeros(1))
        Bad()


def test_parameter_and_buffer_types():
    p = nn.Parameter(framework.tensor([1.0, 2.0]))
    assert isinstance(p, framework.Tensor) and isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    assert str(p) == repr(p)
    assert not nn.Parameter(framework.zeros(1), requires_grad=False).requires_grad
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        nn.Parameter(framework.tensor([1, 2]))
    assert nn.Parameter().shape == (0,)
    assert type(p * 2) is framework.Tensor
    b = nn.Buffer(framework.zeros(2))
    assert isinstance(b, nn.Buffer) and isinstance(b, framework.Tensor)
    assert not isinstance(framework.zeros(2), nn.Buffer)


def test_train_eval_apply_requires_grad_zero_grad():
    net = _net(framework)
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    assert visited[-1] == "Net" and visited[0] == "Linear"
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_(True)
    net(framework.randn(4, 3)).sum().backward()
    assert net.block.fc.weight.grad is not None
    net.zero_grad(set_to_none=False)
    assert net.block.fc.weight.grad.abs().sum().item() == 0
    net.zero_grad()
    assert net.block.fc.weight.grad is None


def test_to_keeps_parameter_objects():
    net = _net(framework)
    w = net.block.fc.weight
    net(framework.randn(4, 3)).sum().backward()
    assert net.double() is net
    assert net.block.fc.weight is w and isinstance(w, nn.Parameter) and w.dtype is framework.float64
    assert w.grad.dtype is framework.float64
    assert net.block.bn.num_batches_tracked.dtype is framework.int64
    assert net.block.bn.running_mean.dtype is framework.float64
    net.to(framework.float32)
    assert w.dtype is framework.float32
    net.to(framework.zeros(1, dtype=framework.float16))
    assert w.dtype is framework.float16
    net.float().to("cpu")
    net.half()
    assert w.dtype is framework.float16 and w.requires_grad
    assert net.cpu() is net and net.share_memory() is net


def test_deepcopy_and_pickle():
    net = _net(framework)
    clone = copy.deepcopy(net)
    assert clone.shared is clone.layers[0]
    assert clone.block.fc.weight is not net.block.fc.weight
    assert isinstance(clone.block.fc.weight, nn.Parameter)
    assert np.array_equal(clone.block.fc.weight.detach().numpy(), net.block.fc.weight.detach().numpy())
    lin = nn.Linear(3, 2)
    back = pickle.loads(pickle.dumps(lin))
    assert isinstance(back.weight, nn.Parameter) and back.weight.requires_grad
    assert np.array_equal(back.weight.detach().numpy(), lin.weight.detach().numpy())
    assert repr(back) == repr(lin)


def test_submodule_and_parameter_lookup():
    net = _net(framework)
    assert net.get_submodule("block.fc") is net.block.fc
    assert net.get_submodule("") is net
    assert net.get_parameter("block.fc.weight") is net.block.fc.weight
    assert net.get_buffer("block.bn.running_mean") is net.block.bn.running_mean
    with pytest.raises(AttributeError, match="Block has no attribute `nope`"):
        net.get_parameter("block.nope")
    with pytest.raises(AttributeError, match="`steps` is not an nn.Parameter"):
        net.get_parameter("block.steps")
    net.set_submodule("block.fc", nn.Linear(3, 4, bias=False))
    assert net.block.fc.bias is None


def _record_hooks(lib, log):
    lin = lib.nn.Linear(3, 2)
    lin.register_forward_pre_hook(lambda m, args: log.append("pre"))
    lin.register_forward_pre_hook(lambda m, args, kwargs: log.append(("pre_kw", sorted(kwargs))), with_kwargs=True)
    lin.register_forward_pre_hook(lambda m, args: log.append("pre_first"), prepend=True)
    lin.register_forward_hook(lambda m, args, out: log.append(("fwd", tuple(out.shape))))
    lin.register_forward_hook(lambda m, args, kwargs, out: log.append("fwd_kw"), with_kwargs=True)
    lin.register_full_backward_pre_hook(lambda m, gout: log.append(("bwd_pre", tuple(gout[0].shape))))
    lin.register_full_backward_hook(
        lambda m, gin, gout: log.append(("bwd", tuple(g.shape if g is not None else None for g in gin),
                                         tuple(gout[0].shape))))
    return lin


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
@pytest.mark.parametrize("input_requires_grad", [True, False])
def test_hook_call_order_matches_torch(input_requires_grad):
    logs = []
    for lib in (framework, torch):
        log = []
        lin = _record_hooks(lib, log)
        x = lib.ones(4, 3, requires_grad=input_requires_grad)
        lin(x).sum().backward()
        logs.append(log)
    assert logs[0] == logs[1]


def test_nested_module_hook_order_matches_torch():
    logs = []
    for lib in (framework, torch):
        log = []
        seq = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.Tanh(), lib.nn.Linear(3, 1))
        for name, m in seq.named_modules():
            m.register_forward_pre_hook(lambda mod, a, name=name: log.append(("pre", name)))
            m.register_forward_hook(lambda mod, a, o, name=name: log.append(("fwd", name)))
            m.register_full_backward_pre_hook(lambda mod, g, name=name: log.append(("bwd_pre", name)))
            m.register_full_backward_hook(lambda mod, gi, go, name=name: log.append(("bwd", name)))
        seq(lib.ones(4, 2, requires_grad=True)).sum().backward()
        logs.append(log)
    assert logs[0] == logs[1]


def test_hooks_modify_inputs_outputs_and_grads():
    results = []
    for lib in (framework, torch):
        lin = lib.nn.Linear(3, 2)
        with lib.no_grad():
            lin.weight.fill_(0.5)
            lin.bias.fill_(0.1)
        lin.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
        lin.register_forward_hook(lambda m, args, out: out + 1)
        lin.register_full_backward_pre_hook(lambda m, gout: (gout[0] * 3,))
        lin.register_full_backward_hook(lambda m, gin, gout: (gin[0] * 10,))
        x = lib.ones(2, 3, requires_grad=True)
        out = lin(x)
        out.sum().backward()
        results.append((out.detach().numpy().copy(), x.grad.numpy().copy(), lin.weight.grad.numpy().copy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_hook_handles_remove_and_always_call():
    lin = nn.Linear(2, 2)
    log = []
    h = lin.register_forward_hook(lambda m, a, o: log.append(1))
    lin(framework.zeros(1, 2))
    h.remove()
    lin(framework.zeros(1, 2))
    assert log == [1]
    with lin.register_forward_pre_hook(lambda m, a: log.append(2)):
        lin(framework.zeros(1, 2))
    lin(framework.zeros(1, 2))
    assert log == [1, 2]
    lin.register_forward_hook(lambda m, a, o: log.append("always"), always_call=True)
    with pytest.raises(RuntimeError):
        lin(framework.zeros(1, 3))
    assert log[-1] == "always"
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        m = nn.ReLU()
        m.register_forward_pre_hook(lambda mod, a, k: 5, with_kwargs=True)
        m(framework.zeros(1))


def test_forward_kwargs_hook_can_replace_kwargs():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True)
    assert m(framework.ones(2)).tolist() == [3.0, 3.0]


def test_missing_forward_and_custom_forward():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required "forward" function'):
        nn.Module()(1)


def test_sequential_operations_match_torch():
    def build(lib):
        return lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.ReLU(), lib.nn.Linear(3, 1), lib.nn.Tanh())

    ours, theirs = build(framework), build(torch)
    assert repr(ours[1:3]) == repr(theirs[1:3]) and type(ours[1:3]) is nn.Sequential
    assert repr(ours[-1]) == repr(theirs[-1])
    del ours[1]
    del theirs[1]
    assert repr(ours) == repr(theirs)
    ours.append(nn.ReLU()).insert(0, nn.Identity())
    theirs.append(torch.nn.ReLU()).insert(0, torch.nn.Identity())
    assert repr(ours) == repr(theirs)
    assert repr(ours + ours) == repr(theirs + theirs) and repr(ours * 2) == repr(theirs * 2)
    assert repr(ours.pop(0)) == repr(theirs.pop(0)) and len(ours) == len(theirs)
    named = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 2, 3)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"] and isinstance(named[0], nn.Conv2d)
    with pytest.raises(IndexError, match="index 9 is out of range"):
        ours[9]
    with pytest.raises(ValueError, match="add operator supports only objects of Sequential class"):
        ours + 3


def test_module_list_and_dict_match_torch():
    ours = nn.ModuleList([nn.Linear(1, 1), nn.ReLU()])
    theirs = torch.nn.ModuleList([torch.nn.Linear(1, 1), torch.nn.ReLU()])
    ours += [nn.ReLU(), nn.ReLU()]
    theirs += [torch.nn.ReLU(), torch.nn.ReLU()]
    ours.insert(1, nn.Tanh())
    theirs.insert(1, torch.nn.Tanh())
    del ours[0]
    del theirs[0]
    assert repr(ours) == repr(theirs) and len(ours) == 4
    assert repr(ours[1:]) == repr(theirs[1:]) and repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
        ours.extend(3)
    d = nn.ModuleDict([("b", nn.ReLU()), ("a", nn.Tanh())])
    assert list(d) == ["b", "a"] and "a" in d and len(d) == 2
    assert isinstance(d.pop("a"), nn.Tanh) and list(d.keys()) == ["b"]
    d.update({"z": nn.Linear(1, 1)})
    assert list(d.state_dict()) == ["z.weight", "z.bias"]
    with pytest.raises(ValueError, match="has length 3; 2 is required"):
        d.update([("a", nn.ReLU(), 1)])


def test_parameter_containers_match_torch():
    ours = nn.ParameterList([nn.Parameter(framework.zeros(2, 3)), framework.zeros(3)])
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2, 3)), torch.zeros(3)])
    assert repr(ours) == repr(theirs)
    assert isinstance(ours[1], nn.Parameter) and len(ours) == 2
    ours.append(framework.ones(1))
    assert list(ours.state_dict()) == ["0", "1", "2"]
    pd = nn.ParameterDict({"y": framework.ones(2), "x": nn.Parameter(framework.zeros(2, 3))})
    td = torch.nn.ParameterDict({"y": torch.ones(2), "x": torch.nn.Parameter(torch.zeros(2, 3))})
    assert repr(pd) == repr(td) and list(pd) == list(td)
    assert isinstance(pd["y"], nn.Parameter) and "x" in pd
    holder = nn.Module()
    holder.plist, holder.pdict = ours, pd
    assert [n for n, _ in holder.named_parameters()] == ["plist.0", "plist.1", "plist.2", "pdict.x", "pdict.y"]


def _grads_pair(seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (4,), (2, 2, 2)]]
    ours = [nn.Parameter(framework.zeros(*a.shape)) for a in arrays]
    theirs = [torch.nn.Parameter(torch.zeros(*a.shape)) for a in arrays]
    for p, q, a in zip(ours, theirs, arrays):
        p.grad, q.grad = framework.tensor(a), torch.tensor(a)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = _grads_pair(0)
    total_ours = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    total_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(total_ours.numpy(), total_theirs.numpy(), rtol=1e-6)
    assert total_ours.shape == total_theirs.shape and str(total_ours.dtype) == str(total_theirs.dtype)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_clip_grad_edge_cases():
    p = nn.Parameter(framework.zeros(2))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0  # no gradients at all
    p.grad = framework.tensor([float("nan"), 1.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    ours, theirs = _grads_pair(1)
    assert nn.utils.clip_grad_value_(iter(ours), 0.3) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.3)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_parameters_vector_round_trip():
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = nn.utils.parameters_to_vector(net.parameters())
    assert vec.shape == (3 * 2 + 2 + 2 + 1,)
    weight = net[0].weight
    nn.utils.vector_to_parameters(vec * 0 + 2.0, net.parameters())
    assert net[0].weight is weight and isinstance(weight, nn.Parameter)
    assert all(np.all(p.detach().numpy() == 2.0) for p in net.parameters())
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        nn.utils.vector_to_parameters([1.0], net.parameters())


def test_pickle_module_with_buffers():
    pytest.importorskip("framework.serialization", reason="tensor pickling needs framework.serialization")
    bn = nn.BatchNorm1d(3)
    back = pickle.loads(pickle.dumps(bn))
    assert list(back.state_dict()) == list(bn.state_dict())


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_global_module_hooks_match_torch():
    from framework.nn.modules import module as our_module
    import torch.nn.modules.module as their_module

    logs = []
    for lib, mod in ((framework, our_module), (torch, their_module)):
        log = []
        seq = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.ReLU())
        seq[0].register_forward_hook(lambda m, a, o: log.append("local_fwd"))
        handles = [
            mod.register_module_forward_pre_hook(lambda m, a: log.append(("gpre", type(m).__name__))),
            mod.register_module_forward_hook(lambda m, a, k, o: log.append(("gfwd", type(m).__name__)),
                                             with_kwargs=True),
            mod.register_module_full_backward_pre_hook(lambda m, g: log.append(("gbpre", type(m).__name__))),
            mod.register_module_full_backward_hook(lambda m, gi, go: log.append(("gbwd", type(m).__name__))),
        ]
        try:
            seq(lib.ones(3, 2, requires_grad=True)).sum().backward()
        finally:
            for h in handles:
                h.remove()
        seq(lib.ones(3, 2))
        logs.append(log)
    assert logs[0] == logs[1]


def test_functional_call_matches_torch():
    from framework.nn.utils.stateless import functional_call
    from torch.func import functional_call as torch_call
    ours, theirs = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ours.load_state_dict({k: framework.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    w = np.arange(4, dtype=np.float32).reshape(2, 2)
    a = functional_call(ours, {"weight": framework.tensor(w, requires_grad=True)}, framework.ones(1, 2))
    b = torch_call(theirs, {"weight": torch.tensor(w, requires_grad=True)}, torch.ones(1, 2))
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)
    assert isinstance(ours.weight, nn.Parameter) and a.requires_grad  # restored afterwards
    for make in (lambda lib: {"weight": lib.zeros(2, 2), "foo": lib.zeros(1)},
                 lambda lib: ({"weight": lib.zeros(2, 2)}, {"weight": lib.ones(2, 2)})):
        errors = []
        for fn, lib, m in ((functional_call, framework, ours), (torch_call, torch, theirs)):
            with pytest.raises(Exception) as info:
                fn(m, make(lib), lib.ones(1, 2), strict=True)
            errors.append((type(info.value), str(info.value)))
        assert errors[0] == errors[1]
    tied = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Linear(2, 2, bias=False))
    tied[1].weight = tied[0].weight
    out = functional_call(tied, {"0.weight": framework.eye(2) * 2}, framework.ones(1, 2))
    assert out.tolist() == [[4.0, 4.0]]


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated")
@pytest.mark.parametrize("dim", [0, 1, 2, None, -1])
def test_weight_norm_matches_torch(dim):
    ours, theirs = nn.Conv1d(3, 2, 3), torch.nn.Conv1d(3, 2, 3)
    ours.load_state_dict({k: framework.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    nn.utils.weight_norm(ours, dim=dim)
    torch.nn.utils.weight_norm(theirs, dim=dim)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.weight_g.shape == theirs.weight_g.shape
    x = np.random.default_rng(0).standard_normal((2, 3, 5)).astype(np.float32)
    a, b = ours(framework.tensor(x)), theirs(torch.tensor(x))
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.weight_g.grad.numpy(), theirs.weight_g.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.weight_v.grad.numpy(), theirs.weight_v.grad.numpy(), rtol=1e-4, atol=1e-6)
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the same parameter weight"):
        nn.utils.weight_norm(ours, dim=dim)
    nn.utils.remove_weight_norm(ours)
    assert isinstance(ours.weight, nn.Parameter) and list(ours.state_dict()) == ["bias", "weight"]
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in Conv1d"):
        nn.utils.remove_weight_norm(ours)


@pytest.mark.parametrize("layer", ["Linear", "Conv2d", "ConvTranspose2d"])
def test_spectral_norm_matches_torch(layer):
    args = (4, 3) if layer == "Linear" else (3, 4, 2)
    shape = (2, 4) if layer == "Linear" else (1, 3, 5, 5)
    framework.manual_seed(0)
    ours = nn.utils.spectral_norm(getattr(nn, layer)(*args), n_power_iterations=2)
    torch.manual_seed(0)
    theirs = torch.nn.utils.spectral_norm(getattr(torch.nn, layer)(*args), n_power_iterations=2)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.state_dict()._metadata == theirs.state_dict()._metadata
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for _ in range(2):
        a, b = ours(framework.tensor(x)), theirs(torch.tensor(x))
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-5)
    for key in ("weight_u", "weight_v"):
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), theirs.state_dict()[key].numpy(), rtol=1e-4,
                                   atol=1e-5)
    np.testing.assert_allclose(ours.weight_orig.grad.numpy(), theirs.weight_orig.grad.numpy(), rtol=1e-3, atol=1e-5)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(framework.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
    nn.utils.remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-4, atol=1e-5)
