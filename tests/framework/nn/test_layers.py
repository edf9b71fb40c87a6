"""Every layer against torch: default initialisation bit for bit, repr, forward and gradients given torch's weights."""
import time

import numpy as np
import pytest

import framework
import framework.nn as nn

torch = pytest.importorskip("torch")

# (class name, constructor args, constructor kwargs, input shapes; int entries in a shape tuple's place mean
# "integer input below this bound" for Embedding/losses' targets)
LAYERS = [
    ("Identity", (3,), {}, [(2, 3)]),
    ("Linear", (5, 3), {}, [(4, 5)]),
    ("Linear", (5, 3), {"bias": False}, [(2, 4, 5)]),
    ("Bilinear", (3, 4, 2), {}, [(5, 3), (5, 4)]),
    ("Flatten", (), {}, [(2, 3, 4)]),
    ("Unflatten", (1, (2, 3)), {}, [(2, 6)]),
    ("Conv1d", (2, 4, 3), {"padding": 1}, [(2, 2, 7)]),
    ("Conv2d", (2, 4, 3), {"stride": 2, "padding": 1, "bias": False}, [(2, 2, 7, 6)]),
    ("Conv2d", (4, 4, (3, 2)), {"groups": 2, "padding": "same", "dilation": 2}, [(1, 4, 6, 6)]),
    ("Conv2d", (2, 3, 3), {"padding": 1, "padding_mode": "reflect"}, [(1, 2, 5, 5)]),
    ("Conv2d", (2, 3, 3), {"padding": 2, "padding_mode": "circular"}, [(1, 2, 5, 5)]),
    ("Conv3d", (2, 3, 2), {}, [(1, 2, 4, 4, 3)]),
    ("ConvTranspose1d", (2, 3, 3), {"stride": 2}, [(2, 2, 5)]),
    ("ConvTranspose2d", (4, 2, 3), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}, [(1, 4, 4, 5)]),
    ("ConvTranspose3d", (2, 2, 2), {}, [(1, 2, 3, 3, 3)]),
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1}, [(2, 3, 9)]),
    ("MaxPool2d", (2,), {}, [(2, 3, 6, 6)]),
    ("MaxPool2d", (3,), {"stride": 2, "ceil_mode": True, "dilation": 1}, [(1, 2, 7, 8)]),
    ("MaxPool3d", (2,), {}, [(1, 2, 4, 4, 4)]),
    ("MaxPool2d", (2,), {"return_indices": True}, [(1, 2, 4, 4)]),
    ("AdaptiveMaxPool2d", (2,), {"return_indices": True}, [(1, 2, 5, 4)]),
    ("LPPool1d", (3, 2), {}, [(1, 2, 6)]),
    ("Dropout1d", (0.2,), {}, [(2, 3, 4)]),
    ("Dropout3d", (0.2,), {}, [(2, 3, 2, 2, 2)]),
    ("AvgPool1d", (3,), {"padding": 1}, [(2, 3, 9)]),
    ("AvgPool2d", (2,), {"count_include_pad": False, "padding": 1}, [(2, 3, 6, 5)]),
    ("AvgPool3d", (2,), {}, [(1, 2, 4, 4, 4)]),
    ("AdaptiveAvgPool1d", (4,), {}, [(2, 3, 9)]),
    ("AdaptiveAvgPool2d", ((2, 3),), {}, [(2, 3, 7, 8)]),
    ("AdaptiveMaxPool1d", (4,), {}, [(2, 3, 9)]),
    ("AdaptiveMaxPool2d", (3,), {}, [(2, 3, 7, 8)]),
    ("LPPool2d", (2, 2), {}, [(1, 2, 4, 4)]),
    ("BatchNorm1d", (3,), {}, [(4, 3)]),
    ("BatchNorm1d", (3,), {"affine": False, "momentum": None}, [(4, 3, 5)]),
    ("BatchNorm2d", (3,), {}, [(2, 3, 4, 4)]),
    ("BatchNorm3d", (2,), {"track_running_stats": False}, [(2, 2, 3, 3, 3)]),
    ("LayerNorm", ((3, 4),), {}, [(2, 3, 4)]),
    ("LayerNorm", (4,), {"bias": False, "eps": 1e-3}, [(2, 4)]),
    ("GroupNorm", (2, 4), {}, [(2, 4, 5)]),
    ("RMSNorm", (4,), {}, [(3, 4)]),
    ("RMSNorm", ((2, 4),), {"eps": 1e-6, "elementwise_affine": False}, [(3, 2, 4)]),
    ("InstanceNorm1d", (3,), {}, [(2, 3, 6)]),
    ("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True}, [(2, 3, 4, 4)]),
    ("InstanceNorm2d", (3,), {}, [(3, 4, 4)]),
    ("LocalResponseNorm", (2,), {}, [(2, 4, 3, 3)]),
    ("Dropout", (0.3,), {}, [(3, 4)]),
    ("Dropout2d", (), {}, [(2, 3, 4, 4)]),
    ("AlphaDropout", (0.2,), {}, [(3, 4)]),
    ("Embedding", (10, 3), {"padding_idx": 2}, [10]),
    ("Embedding", (10, 3), {"max_norm": 1.0}, [10]),
    ("Upsample", (), {"scale_factor": 2}, [(1, 2, 3, 3)]),
    ("Upsample", (), {"size": (5, 4), "mode": "bilinear", "align_corners": False}, [(1, 2, 3, 3)]),
    ("UpsamplingNearest2d", (), {"scale_factor": 2}, [(1, 2, 3, 3)]),
    ("UpsamplingBilinear2d", (), {"size": 5}, [(1, 2, 3, 3)]),
    ("PixelShuffle", (2,), {}, [(1, 8, 3, 3)]),
    ("PixelUnshuffle", (2,), {}, [(1, 2, 4, 6)]),
    ("ChannelShuffle", (2,), {}, [(1, 4, 2, 2)]),
    ("ZeroPad2d", ((1, 2, 0, 1),), {}, [(1, 2, 3, 3)]),
    ("ConstantPad1d", (2, 3.5), {}, [(1, 2, 3)]),
    ("ConstantPad2d", (1, -1.0), {}, [(1, 2, 3, 3)]),
    ("ReflectionPad1d", (2,), {}, [(1, 2, 4)]),
    ("ReflectionPad2d", (1,), {}, [(1, 2, 3, 3)]),
    ("ReplicationPad1d", ((1, 2),), {}, [(1, 2, 4)]),
    ("ReplicationPad2d", (1,), {}, [(1, 2, 3, 3)]),
    ("CosineSimilarity", (), {}, [(4, 5), (4, 5)]),
    ("PairwiseDistance", (), {"p": 1.0}, [(4, 5), (4, 5)]),
    ("Fold", ((4, 5), 2), {}, [(1, 8, 12)]),
    ("Unfold", (2,), {"padding": 1}, [(1, 2, 3, 4)]),
]

ACTIVATIONS = [
    ("ReLU", ()), ("ReLU6", ()), ("GELU", ()), ("GELU", ("tanh",)), ("SiLU", ()), ("Mish", ()), ("Tanh", ()),
    ("Sigmoid", ()), ("Softmax", (1,)), ("LogSoftmax", (-1,)), ("Softmin", (0,)), ("LeakyReLU", (0.2,)),
    ("ELU", (0.7,)), ("SELU", ()), ("CELU", (1.5,)), ("Hardtanh", (-0.5, 0.8)), ("Hardsigmoid", ()),
    ("Hardswish", ()), ("Softplus", (2.0, 5.0)), ("Softsign", ()), ("Threshold", (0.1, -2.0)), ("PReLU", ()),
    ("PReLU", (4,)), ("GLU", ()), ("LogSigmoid", ()), ("Tanhshrink", ()), ("Softshrink", (0.3,)),
    ("Hardshrink", ()), ("Softmax2d", ()),
]

LOSSES = [
    ("CrossEntropyLoss", {}, [(5, 4), ("int", 4, (5,))]),
    ("CrossEntropyLoss", {"label_smoothing": 0.1, "ignore_index": 1, "reduction": "sum"}, [(5, 4), ("int", 4, (5,))]),
    ("CrossEntropyLoss", {"weight": (4,)}, [(5, 4, 3), ("int", 4, (5, 3))]),
    ("NLLLoss", {}, [(5, 4), ("int", 4, (5,))]),
    ("NLLLoss", {"weight": (4,), "reduction": "none"}, [(5, 4), ("int", 4, (5,))]),
    ("MSELoss", {}, [(3, 4), (3, 4)]),
    ("L1Loss", {"reduction": "sum"}, [(3, 4), (3, 4)]),
    ("SmoothL1Loss", {"beta": 0.5}, [(3, 4), (3, 4)]),
    ("HuberLoss", {"delta": 0.7}, [(3, 4), (3, 4)]),
    ("BCELoss", {}, [("prob", (3, 4)), ("prob", (3, 4))]),
    ("BCEWithLogitsLoss", {"pos_weight": (4,)}, [(3, 4), ("prob", (3, 4))]),
    ("KLDivLoss", {"reduction": "batchmean"}, [(3, 4), ("prob", (3, 4))]),
    ("CosineEmbeddingLoss", {"margin": 0.2}, [(4, 5), (4, 5), ("sign", (4,))]),
    ("MarginRankingLoss", {"margin": 0.1}, [(6,), (6,), ("sign", (6,))]),
    ("TripletMarginLoss", {"margin": 0.5}, [(4, 5), (4, 5), (4, 5)]),
    ("HingeEmbeddingLoss", {}, [(3, 4), ("sign", (3, 4))]),
    ("SoftMarginLoss", {}, [(3, 4), ("sign", (3, 4))]),
    ("MultiLabelSoftMarginLoss", {}, [(3, 4), ("int", 2, (3, 4))]),
    ("PoissonNLLLoss", {}, [(3, 4), ("prob", (3, 4))]),
    ("GaussianNLLLoss", {}, [(3, 4), (3, 4), ("prob", (3, 4))]),
    ("TripletMarginWithDistanceLoss", {"margin": 0.5, "swap": True}, [(4, 5), (4, 5), (4, 5)]),
    ("TripletMarginWithDistanceLoss", {"reduction": "none"}, [(4, 5), (4, 5), (4, 5)]),
]


def _input(spec, rng):
    if isinstance(spec, int):
        return rng.integers(0, spec, size=(3, 4)).astype(np.int64), False
    if spec[0] == "int":
        return rng.integers(0, spec[1], size=spec[2]).astype(np.int64), False
    if spec[0] == "prob":
        return rng.uniform(0.05, 0.95, size=spec[1]).astype(np.float32), True
    if spec[0] == "sign":
        return np.where(rng.random(spec[1]) < 0.5, -1.0, 1.0).astype(np.float32), False
    return rng.standard_normal(spec).astype(np.float32), True


def _to_fw(sd):
    return {k: framework.tensor(v.detach().numpy()) for k, v in sd.items()}


def _assert_close(ours, theirs, what):
    ours = ours.detach() if isinstance(ours, framework.Tensor) else ours
    assert tuple(ours.shape) == tuple(theirs.shape), what
    assert str(ours.dtype) == str(theirs.dtype), what
    np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=what)


def _compare(fw_module, th_module, specs, train=True):
    rng = np.random.default_rng(0)
    fw_module.train(train)
    th_module.train(train)
    arrays = [_input(s, rng) for s in specs]
    fw_in = [framework.tensor(a, requires_grad=g) for a, g in arrays]
    th_in = [torch.tensor(a, requires_grad=g) for a, g in arrays]
    fw_out, th_out = fw_module(*fw_in), th_module(*th_in)
    if isinstance(th_out, tuple):
        fw_out, th_out = fw_out[0], th_out[0]
    _assert_close(fw_out, th_out, "forward")
    if not th_out.requires_grad:
        return
    weight = rng.standard_normal(tuple(th_out.shape)).astype(np.float32)
    (fw_out * framework.tensor(weight)).sum().backward()
    (th_out * torch.tensor(weight)).sum().backward()
    for i, (f, t) in enumerate(zip(fw_in, th_in)):
        if t.grad is not None:
            _assert_close(f.grad, t.grad, f"grad of input {i}")
    for (name, fp), (_, tp) in zip(fw_module.named_parameters(), th_module.named_parameters()):
        _assert_close(fp.grad, tp.grad, f"grad of {name}")
    for (name, fb), (_, tb) in zip(fw_module.named_buffers(), th_module.named_buffers()):
        _assert_close(fb, tb, f"buffer {name} after forward")


def _build(name, args, kwargs, module):
    kwargs = {k: (module.rand(*v) if isinstance(v, tuple) and k in ("weight", "pos_weight") else v)
              for k, v in kwargs.items()}
    return getattr(module.nn, name)(*args, **kwargs)


@pytest.mark.parametrize("name,args,kwargs,shapes", LAYERS, ids=[f"{c[0]}-{i}" for i, c in enumerate(LAYERS)])
def test_layer_matches_torch(name, args, kwargs, shapes):
    framework.manual_seed(0)
    ours = getattr(nn, name)(*args, **kwargs)
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    sd_ours, sd_theirs = ours.state_dict(), theirs.state_dict()
    assert list(sd_ours) == list(sd_theirs)
    for k in sd_theirs:  # default initialisation, bit for bit
        assert np.array_equal(sd_ours[k].numpy(), sd_theirs[k].numpy()), k
        assert str(sd_ours[k].dtype) == str(sd_theirs[k].dtype), k
    ours.load_state_dict(_to_fw(sd_theirs))
    if "Dropout" in name:
        _compare(ours, theirs, shapes, train=False)
        return
    _compare(ours, theirs, shapes)
    if any(n.startswith("running") for n in sd_theirs):
        _compare(ours, theirs, shapes, train=False)


@pytest.mark.parametrize("name,args", ACTIVATIONS, ids=[f"{c[0]}-{i}" for i, c in enumerate(ACTIVATIONS)])
def test_activation_matches_torch(name, args):
    framework.manual_seed(0)
    ours = getattr(nn, name)(*args)
    theirs = getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    ours.load_state_dict(_to_fw(theirs.state_dict()))
    _compare(ours, theirs, [(3, 4, 2, 2)])


@pytest.mark.parametrize("name", ["ReLU", "ReLU6", "SiLU", "Mish", "SELU", "Hardswish", "Hardsigmoid", "ELU",
                                  "CELU", "LeakyReLU", "Hardtanh"])
def test_inplace_activation(name):
    ours, theirs = getattr(nn, name)(inplace=True), getattr(torch.nn, name)(inplace=True)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    a, b = framework.tensor(x), torch.tensor(x)
    ours(a)
    theirs(b)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kwargs,shapes", LOSSES, ids=[f"{c[0]}-{i}" for i, c in enumerate(LOSSES)])
def test_loss_matches_torch(name, kwargs, shapes):
    theirs = _build(name, (), kwargs, torch)
    ours = getattr(nn, name)(**{k: framework.tensor(getattr(theirs, k).numpy()) if isinstance(v, tuple) else v
                                 for k, v in kwargs.items()})
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _compare(ours, theirs, shapes)


def test_ctc_loss_forwards_to_functional():
    assert repr(nn.CTCLoss(blank=1)) == repr(torch.nn.CTCLoss(blank=1))
    x = framework.randn(6, 2, 4).log_softmax(2)
    with pytest.raises(NotImplementedError, match="ctc_loss"):  # F.ctc_loss is not implemented yet
        nn.CTCLoss()(x, framework.tensor([[1, 2], [3, 1]]), framework.tensor([6, 5]), framework.tensor([2, 2]))


def test_triplet_with_custom_distance_and_nll2d():
    def cosine_distance(a, b):
        return 1 - (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))

    rng = np.random.default_rng(2)
    a, p, n = (rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3))
    ours = nn.TripletMarginWithDistanceLoss(distance_function=cosine_distance)(
        *(framework.tensor(v) for v in (a, p, n)))
    theirs = torch.nn.TripletMarginWithDistanceLoss(distance_function=cosine_distance)(
        *(torch.tensor(v) for v in (a, p, n)))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5)
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
        assert repr(nn.NLLLoss2d()) == "NLLLoss2d()"


def test_loss_legacy_reduction_flags():
    with pytest.warns(UserWarning):
        loss = nn.MSELoss(size_average=False)
    assert loss.reduction == "sum"
    with pytest.warns(UserWarning):
        assert nn.L1Loss(reduce=False).reduction == "none"


def test_batchnorm_running_stats_and_momentum_none():
    ours, theirs = nn.BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None)
    rng = np.random.default_rng(3)
    for _ in range(3):
        x = rng.standard_normal((5, 3)).astype(np.float32)
        ours(framework.tensor(x))
        theirs(torch.tensor(x))
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)
    assert ours.num_batches_tracked.item() == 3
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        ours(framework.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input\)"):
        nn.BatchNorm2d(3)(framework.zeros(2, 3))


def test_batchnorm_loads_old_checkpoint_without_counter():
    bn = nn.BatchNorm1d(3)
    sd = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    assert bn.load_state_dict(sd).missing_keys == []  # no metadata: treated as a version-1 checkpoint


def test_embedding_padding_idx_and_from_pretrained():
    framework.manual_seed(1)
    emb = nn.Embedding(6, 3, padding_idx=-2)
    assert emb.padding_idx == 4 and emb.weight[4].abs().sum().item() == 0
    out = emb(framework.tensor([[4, 1], [4, 4]]))
    out.sum().backward()
    assert emb.weight.grad[4].abs().sum().item() == 0
    w = framework.rand(5, 2)
    pre = nn.Embedding.from_pretrained(w)
    assert not pre.weight.requires_grad and np.array_equal(pre.weight.numpy(), w.numpy())
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(3, 2, padding_idx=3)
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.Embedding(3, 2, sparse=True)


def test_conv_transpose_output_size_and_errors():
    framework.manual_seed(0)
    ours = nn.ConvTranspose2d(2, 3, 3, stride=2)
    torch.manual_seed(0)
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    a = ours(framework.tensor(x), output_size=[10, 10])
    b = theirs(torch.tensor(x), output_size=[10, 10])
    _assert_close(a, b, "output_size")
    with pytest.raises(ValueError, match="requested an output size of"):
        ours(framework.tensor(x), output_size=[20, 20])
    for kwargs, msg in [({"groups": 0}, "groups must be a positive integer"),
                        ({"groups": 3}, "in_channels must be divisible by groups"),
                        ({"padding": "full"}, "Invalid padding string 'full'"),
                        ({"padding": "same", "stride": 2}, "padding='same' is not supported for strided"),
                        ({"padding_mode": "nope"}, "padding_mode must be one of")]:
        with pytest.raises(ValueError, match=msg):
            nn.Conv2d(4, 6, 3, **kwargs)
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")


def test_constructor_errors():
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        nn.TripletMarginLoss(margin=0)


def test_dropout_train_uses_rng_like_torch():
    x = np.ones((4, 6), dtype=np.float32)
    framework.manual_seed(5)
    a = nn.Dropout(0.4)(framework.tensor(x))
    torch.manual_seed(5)
    b = torch.nn.Dropout(0.4)(torch.tensor(x))
    assert set(np.unique(a.numpy())) <= {0.0, np.float32(1 / 0.6)}
    np.testing.assert_allclose(a.numpy(), b.numpy())


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_unpool_inverts_max_pool(dims):
    shape = (1, 2) + (4,) * dims
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    outs = []
    for lib in (framework, torch):
        pool = getattr(lib.nn, f"MaxPool{dims}d")(2, return_indices=True)
        unpool = getattr(lib.nn, f"MaxUnpool{dims}d")(2)
        values, indices = pool(lib.tensor(x))
        outs.append((repr(unpool), unpool(values, indices).numpy()))
    assert outs[0][0] == outs[1][0]
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


def test_module_dtype_and_device_arguments():
    lin = nn.Linear(3, 2, dtype=framework.float64)
    assert lin.weight.dtype is framework.float64 and lin.bias.dtype is framework.float64
    bn = nn.BatchNorm1d(2, dtype=framework.float64)
    assert bn.running_mean.dtype is framework.float64 and bn.num_batches_tracked.dtype is framework.int64
    assert nn.Conv2d(1, 1, 1, device="cpu").weight.device.type == "cpu"


def test_mlp_trains_on_digits():
    from zoo.datasets import load_digits
    start = time.time()
    x_train, y_train, x_test, y_test = load_digits()
    framework.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    loss_fn = nn.CrossEntropyLoss()
    lr, batch = 0.1, 32
    n = x_train.shape[0]
    for epoch in range(15):
        order = framework.randperm(n)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            model.zero_grad()
            loss.backward()
            with framework.no_grad():
                for p in model.parameters():
                    p.sub_(lr * p.grad)
    model.eval()
    with framework.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    assert accuracy >= 0.95, accuracy
    assert time.time() - start < 15


LAZY = [("LazyLinear", (3,), (2, 5)), ("LazyConv1d", (4, 3), (2, 3, 7)), ("LazyConv2d", (4, 3), (1, 6, 5, 5)),
        ("LazyConv3d", (2, 2), (1, 2, 3, 3, 3)), ("LazyConvTranspose1d", (4, 3), (2, 3, 5)),
        ("LazyConvTranspose2d", (4, 3, 2, 1, 1, 2), (1, 6, 4, 4)), ("LazyConvTranspose3d", (2, 2), (1, 2, 2, 2, 2)),
        ("LazyBatchNorm1d", (), (4, 3)), ("LazyBatchNorm2d", (), (2, 3, 2, 2)),
        ("LazyBatchNorm3d", (), (2, 2, 2, 2, 2)), ("LazyInstanceNorm1d", (), (2, 3, 4)),
        ("LazyInstanceNorm2d", (), (2, 3, 4, 4)), ("LazyInstanceNorm3d", (), (1, 2, 2, 2, 3))]


@pytest.mark.parametrize("name,args,shape", LAZY)
def test_lazy_modules_match_torch(name, args, shape):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs) and repr(ours.weight) == "<UninitializedParameter>"
    assert ours.has_uninitialized_params()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter"):
        ours.weight + 1
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    framework.manual_seed(4)
    a = ours(framework.tensor(x))
    torch.manual_seed(4)
    b = theirs(torch.tensor(x))
    assert repr(ours) == repr(theirs) and type(ours).__name__ == type(theirs).__name__
    assert type(ours.weight) is nn.Parameter
    for (k, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy()), k  # initialisation, bit for bit
    for k, v in theirs.state_dict().items():
        _assert_close(ours.state_dict()[k], v, k)
    _assert_close(a, b, "forward")


def test_lazy_linear_loads_materialised_state_dict():
    lazy = nn.LazyLinear(3).double()
    source = nn.Linear(4, 3, dtype=framework.float64)
    lazy.load_state_dict(source.state_dict())
    assert type(lazy.weight) is nn.Parameter and lazy.weight.dtype is framework.float64
    assert np.array_equal(lazy.weight.detach().numpy(), source.weight.detach().numpy())


BAGS = [
    ({"mode": "mean"}, [[1, 2, 4], [4, 3, 2]], None, None),
    ({"mode": "sum"}, [1, 2, 4, 5, 4, 3, 2, 9], [0, 4, 4], None),
    ({"mode": "sum"}, [1, 2, 4, 5, 4, 3], [0, 2], [0.5, 1.0, 2.0, -1.0, 3.0, 0.25]),
    ({"mode": "max"}, [1, 2, 4, 5, 4, 3, 2, 9], [0, 3, 5], None),
    ({"mode": "mean", "padding_idx": 2}, [1, 2, 4, 2, 2, 2], [0, 3, 4], None),
    ({"mode": "max", "padding_idx": 4}, [[1, 2, 4], [4, 4, 4]], None, None),
    ({"mode": "sum", "include_last_offset": True}, [1, 2, 4, 5, 4, 3, 2, 9], [0, 3, 5, 8], None),
    ({"mode": "sum", "include_last_offset": True}, [1, 2, 4, 5, 4, 3, 2, 9], [0, 3, 5, 7], None),
    ({"mode": "mean", "max_norm": 1.0}, [1, 2, 4, 5, 1], [0, 2], None),
]


@pytest.mark.parametrize("kwargs,indices,offsets,weights", BAGS)
def test_embedding_bag_matches_torch(kwargs, indices, offsets, weights):
    framework.manual_seed(0)
    ours = nn.EmbeddingBag(10, 3, **kwargs)
    torch.manual_seed(0)
    theirs = torch.nn.EmbeddingBag(10, 3, **kwargs)
    assert repr(ours) == repr(theirs)
    assert np.array_equal(ours.weight.detach().numpy(), theirs.weight.detach().numpy())
    outs = []
    for lib, m in ((framework, ours), (torch, theirs)):
        args = [lib.tensor(indices)]
        args.append(lib.tensor(offsets) if offsets is not None else None)
        args.append(lib.tensor(weights) if weights is not None else None)
        out = m(*args)
        (out * lib.arange(out.numel()).reshape(out.shape)).sum().backward()
        # torch leaves garbage in the gradient row of an index past the last offset: compare used rows only
        used = sorted({i for i, b in enumerate(np.searchsorted(offsets, np.arange(len(indices)), side="right"))
                       if b < len(offsets)} if offsets is not None and kwargs.get("include_last_offset") else
                      range(np.size(indices)))
        rows = np.unique(np.ravel(indices)[used])
        outs.append((out.detach().numpy(), m.weight.grad.numpy()[rows], m.weight.detach().numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_embedding_bag_errors_match_torch():
    cases = [
        lambda lib: lib.nn.EmbeddingBag(5, 2)(lib.tensor([[1, 2]]), lib.tensor([0])),
        lambda lib: lib.nn.EmbeddingBag(5, 2)(lib.tensor([1, 2])),
        lambda lib: lib.nn.EmbeddingBag(5, 2)(lib.tensor([1, 2]), lib.tensor([0]), lib.tensor([1.0, 2.0])),
        lambda lib: lib.nn.EmbeddingBag(5, 2, mode="median")(lib.tensor([[1, 2]])),
        lambda lib: lib.nn.EmbeddingBag(5, 2, mode="max", scale_grad_by_freq=True)(lib.tensor([[1, 2]])),
        lambda lib: lib.nn.EmbeddingBag(5, 2, mode="sum")(lib.tensor([1, 2]), lib.tensor([0]), lib.tensor([1.0])),
    ]
    for case in cases:
        errors = []
        for lib in (framework, torch):
            with pytest.raises(Exception) as info:
                case(lib)
            errors.append((type(info.value), str(info.value)))
        assert errors[0] == errors[1]
