"""MLP, LeNet-5, ResNet and ViT against plain torch re-implementations written here with torchvision's names."""
import math
from collections import OrderedDict

import numpy as np
import pytest

import framework as fw
from zoo.models import lenet, mlp, resnet, vit

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional


# ---- references: torchvision's structures (and the tutorial LeNet), written out in torch --------------------------
class RefLeNet(tnn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1, self.conv2 = tnn.Conv2d(1, 6, 5), tnn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = tnn.Linear(400, 120), tnn.Linear(120, 84), tnn.Linear(84, num_classes)

    def forward(self, x):
        x = TF.max_pool2d(TF.relu(self.conv1(x)), 2)
        x = TF.max_pool2d(TF.relu(self.conv2(x)), 2).flatten(1)
        return self.fc3(TF.relu(self.fc2(TF.relu(self.fc1(x)))))


def ref_mlp(sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers += [tnn.Linear(a, b)] + ([tnn.ReLU()] if i < len(sizes) - 2 else []) + [tnn.Dropout(0.0)]
    return tnn.Sequential(*layers)


class RefBasic(tnn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride, down):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU()
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = down

    def forward(self, x):
        short = x if self.downsample is None else self.downsample(x)
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + short)


class RefBottle(tnn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride, down):
        super().__init__()
        self.conv1, self.bn1 = tnn.Conv2d(cin, planes, 1, bias=False), tnn.BatchNorm2d(planes)
        self.conv2, self.bn2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False), tnn.BatchNorm2d(planes)
        self.conv3, self.bn3 = tnn.Conv2d(planes, planes * 4, 1, bias=False), tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU()
        self.downsample = down

    def forward(self, x):
        short = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + short)


class RefResNet(tnn.Module):
    def __init__(self, block, depths, num_classes=1000):
        super().__init__()
        self.conv1, self.bn1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False), tnn.BatchNorm2d(64)
        self.relu, self.maxpool = tnn.ReLU(), tnn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), depths)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                down = None
                if j == 0 and (stride != 1 or cin != planes * block.expansion):
                    down = tnn.Sequential(tnn.Conv2d(cin, planes * block.expansion, 1, stride, bias=False),
                                          tnn.BatchNorm2d(planes * block.expansion))
                blocks.append(block(cin, planes, stride, down))
                cin = planes * block.expansion
            setattr(self, f"layer{i + 1}", tnn.Sequential(*blocks))
        self.avgpool = tnn.AdaptiveAvgPool2d(1)
        self.fc = tnn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


REF_RESNETS = {"resnet18": (RefBasic, [2, 2, 2, 2]), "resnet34": (RefBasic, [3, 4, 6, 3]),
               "resnet50": (RefBottle, [3, 4, 6, 3])}


class RefViTLayer(tnn.Module):
    def __init__(self, heads, dim, mlp_dim):
        super().__init__()
        self.ln_1 = tnn.LayerNorm(dim, eps=1e-6)
        self.self_attention = tnn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln_2 = tnn.LayerNorm(dim, eps=1e-6)
        self.mlp = tnn.Sequential(tnn.Linear(dim, mlp_dim), tnn.GELU(), tnn.Dropout(0.0), tnn.Linear(mlp_dim, dim),
                                  tnn.Dropout(0.0))

    def forward(self, x):
        y = self.ln_1(x)
        x = x + self.self_attention(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class RefViTEncoder(tnn.Module):
    def __init__(self, seq, layers, heads, dim, mlp_dim):
        super().__init__()
        self.pos_embedding = tnn.Parameter(torch.zeros(1, seq, dim))
        self.layers = tnn.Sequential(OrderedDict((f"encoder_layer_{i}", RefViTLayer(heads, dim, mlp_dim))
                                                 for i in range(layers)))
        self.ln = tnn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        return self.ln(self.layers(x + self.pos_embedding))


class RefViT(tnn.Module):
    def __init__(self, image, patch, layers, heads, dim, mlp_dim, num_classes=1000):
        super().__init__()
        self.conv_proj = tnn.Conv2d(3, dim, patch, patch)
        self.class_token = tnn.Parameter(torch.zeros(1, 1, dim))
        self.encoder = RefViTEncoder((image // patch) ** 2 + 1, layers, heads, dim, mlp_dim)
        self.heads = tnn.Sequential(OrderedDict(head=tnn.Linear(dim, num_classes)))

    def forward(self, x):
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], 1)
        return self.heads(self.encoder(x)[:, 0])


# ---- helpers --------------------------------------------------------------------------------------------------------
def randomize(model, seed=0):
    """Give every float entry of ``model``'s state random values (weights scaled by fan-in, variances positive), so
    no zero or unit initialisation hides a wrongly wired parameter; returns the state as numpy arrays."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, value in model.state_dict().items():
        array = value.numpy()
        if array.dtype == np.float32:
            fan_in = int(np.prod(array.shape[1:])) if array.ndim > 1 else 25
            array = (rng.standard_normal(array.shape) / math.sqrt(fan_in)).astype(np.float32)
            if name.endswith("running_var"):
                array = np.abs(array) + 0.5
            elif name.endswith(("bn1.weight", "bn2.weight", "bn3.weight", ".1.weight")) and array.ndim == 1:
                array = array + 1.0
        state[name] = array
    model.load_state_dict({k: fw.from_numpy(v.copy()) for k, v in state.items()})
    return state


def load_into_ref(ref, state):
    ref.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=True)
    return ref


def assert_same_keys_and_shapes(ours, ref):
    mine = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert list(mine) == list(theirs)
    assert mine == theirs


def close(ours, theirs, tol=1e-4):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


# ---- MLP and LeNet --------------------------------------------------------------------------------------------------
def test_mlp_matches_reference_and_flattens_images():
    model = mlp.mlp(in_features=64, hidden_features=(32, 16), num_classes=10)
    ref = ref_mlp([64, 32, 16, 10])
    assert_same_keys_and_shapes(model, ref)
    state = randomize(model)
    load_into_ref(ref, state)
    x = np.random.default_rng(1).standard_normal((5, 8, 8)).astype(np.float32)
    close(model(fw.from_numpy(x)), ref(torch.from_numpy(x).flatten(1)))


def test_mlp_rejects_bad_configuration_and_input():
    with pytest.raises(ValueError, match="activation"):
        mlp.MLP(activation="swishy")
    with pytest.raises(ValueError, match="positive"):
        mlp.MLP(hidden_features=(0,))
    with pytest.raises(ValueError, match="784 input features per sample, got 64"):
        mlp.mlp()(fw.zeros(2, 64))


def test_lenet_matches_reference():
    model, ref = lenet.lenet(num_classes=7), RefLeNet(num_classes=7)
    assert_same_keys_and_shapes(model, ref)
    load_into_ref(ref, randomize(model))
    x = np.random.default_rng(2).standard_normal((3, 1, 32, 32)).astype(np.float32)
    close(model(fw.from_numpy(x)), ref(torch.from_numpy(x)))
    with pytest.raises(ValueError, match=r"\(N, C, 32, 32\)"):
        model(fw.zeros(1, 1, 28, 28))


# ---- ResNet ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_full_size_resnet_state_dict_matches_torchvision_layout(name):
    model = resnet.MODELS[name]()
    ref = RefResNet(*REF_RESNETS[name])
    assert_same_keys_and_shapes(model, ref)
    expected = {"resnet18": 11689512, "resnet34": 21797672, "resnet50": 25557032}[name]  # torchvision's counts
    assert sum(p.numel() for p in model.parameters()) == expected


def test_resnet18_matches_reference_in_eval_and_train_mode():
    model, ref = resnet.resnet18(num_classes=10), RefResNet(RefBasic, [2, 2, 2, 2], num_classes=10)
    load_into_ref(ref, randomize(model))
    x = np.random.default_rng(3).standard_normal((2, 3, 64, 64)).astype(np.float32)
    model.eval(), ref.eval()
    close(model(fw.from_numpy(x)), ref(torch.from_numpy(x)))

    model.train(), ref.train()
    ours_x, ref_x = fw.from_numpy(x), torch.from_numpy(x)
    ours_out, ref_out = model(ours_x), ref(ref_x)
    close(ours_out, ref_out)
    # Batch statistics moved the running estimates the same way.
    close(model.layer3[0].bn2.running_var, ref.layer3[0].bn2.running_var)
    assert int(model.bn1.num_batches_tracked) == 1
    ours_out.square().mean().backward()
    ref_out.square().mean().backward()
    for name in ("conv1.weight", "layer2.0.downsample.0.weight", "layer4.1.bn2.weight", "fc.bias"):
        close(model.get_parameter(name).grad, ref.get_parameter(name).grad, tol=1e-3)


def test_bottleneck_resnet_matches_reference_at_small_size():
    # One Bottleneck per stage: ResNet-50's code path (its full layout is checked above) at a fraction of the cost.
    model, ref = resnet.ResNet(resnet.Bottleneck, [1, 1, 1, 1], num_classes=5), RefResNet(RefBottle, [1, 1, 1, 1], 5)
    load_into_ref(ref, randomize(model, seed=4))
    x = np.random.default_rng(5).standard_normal((1, 3, 32, 32)).astype(np.float32)
    model.eval(), ref.eval()
    close(model(fw.from_numpy(x)), ref(torch.from_numpy(x)))


def test_resnet_initialisation_follows_torchvision():
    fw.manual_seed(0)
    model = resnet.resnet18(zero_init_residual=True)
    w = model.layer1[0].conv1.weight
    assert abs(float(w.std()) - math.sqrt(2 / (64 * 9))) < 0.01  # kaiming normal, fan_out, relu gain
    assert float(model.bn1.weight.min()) == 1.0 and float(model.bn1.bias.abs().max()) == 0.0
    assert float(model.layer2[1].bn2.weight.abs().max()) == 0.0 and float(model.layer2[1].bn1.weight.min()) == 1.0
    bound = 1 / math.sqrt(512)  # nn.Linear's default for fc
    assert float(model.fc.weight.abs().max()) <= bound


def test_resnet_rejects_unsupported_block_options():
    with pytest.raises(ValueError, match="groups=1 and base_width=64"):
        resnet.resnet18(groups=2)
    with pytest.raises(NotImplementedError, match="dilation"):
        resnet.resnet18(replace_stride_with_dilation=[False, False, True])
    with pytest.raises(ValueError, match="replace_stride_with_dilation"):
        resnet.resnet50(replace_stride_with_dilation=[True])


def test_resnext_style_grouped_bottleneck_widths():
    model = resnet.ResNet(resnet.Bottleneck, [1, 1, 1, 1], groups=4, width_per_group=8)
    conv = model.layer1[0].conv2
    assert conv.groups == 4 and tuple(conv.weight.shape) == (32, 8, 3, 3)


def test_dilation_replaces_the_last_strides():
    model = resnet.ResNet(resnet.Bottleneck, [1, 1, 2, 2], replace_stride_with_dilation=[False, True, True])
    assert model.layer4[0].conv2.stride == (1, 1) and model.layer4[1].conv2.dilation == (4, 4)
    features = model.layer4(model.layer3(model.layer2(model.layer1(fw.zeros(1, 64, 16, 16)))))
    assert tuple(features.shape) == (1, 2048, 8, 8)  # output stride 8 instead of 32


# ---- ViT -------------------------------------------------------------------------------------------------------------
def test_full_size_vit_b_16_state_dict_matches_torchvision_layout():
    model = vit.vit_b_16()
    ref = RefViT(224, 16, 12, 12, 768, 3072)
    assert_same_keys_and_shapes(model, ref)
    assert sum(p.numel() for p in model.parameters()) == 86567656  # torchvision's vit_b_16
    assert "encoder.layers.encoder_layer_11.self_attention.in_proj_weight" in model.state_dict()


def test_tiny_vit_matches_reference():
    model = vit.vit_tiny_16(num_classes=10)
    ref = RefViT(224, 16, 12, 3, 192, 768, num_classes=10)
    assert_same_keys_and_shapes(model, ref)
    load_into_ref(ref, randomize(model, seed=6))
    x = np.random.default_rng(7).standard_normal((1, 3, 224, 224)).astype(np.float32)
    model.eval(), ref.eval()
    with fw.no_grad():
        ours = model(fw.from_numpy(x))
    with torch.no_grad():
        close(ours, ref(torch.from_numpy(x)))


def test_small_vit_gradients_match_reference():
    model = vit.VisionTransformer(32, 8, num_layers=2, num_heads=4, hidden_dim=32, mlp_dim=48, num_classes=3)
    ref = RefViT(32, 8, 2, 4, 32, 48, num_classes=3)
    load_into_ref(ref, randomize(model, seed=8))
    x = np.random.default_rng(9).standard_normal((2, 3, 32, 32)).astype(np.float32)
    model(fw.from_numpy(x)).logsumexp(1).sum().backward()
    ref(torch.from_numpy(x)).logsumexp(1).sum().backward()
    layers = "encoder.layers.encoder_layer_"
    for name in ("class_token", "encoder.pos_embedding", "conv_proj.weight", layers + "0.self_attention.in_proj_weight",
                 layers + "1.mlp.0.bias", layers + "1.ln_2.weight"):
        close(model.get_parameter(name).grad, ref.get_parameter(name).grad)


def test_vit_initialisation_follows_torchvision():
    fw.manual_seed(0)
    model = vit.VisionTransformer(64, 16, num_layers=1, num_heads=2, hidden_dim=64, mlp_dim=128)
    assert float(model.heads.head.weight.abs().max()) == 0.0 and float(model.class_token.abs().max()) == 0.0
    assert abs(float(model.conv_proj.weight.std()) - math.sqrt(1 / (3 * 16 * 16))) < 0.003  # cut at +-2: no effect
    assert abs(float(model.encoder.pos_embedding.std()) - 0.02) < 0.003
    assert float(model.encoder.layers.encoder_layer_0.mlp[0].bias.abs().max()) < 1e-5


def test_vit_rejects_bad_sizes_and_unsupported_options():
    with pytest.raises(ValueError, match="not divisible"):
        vit.VisionTransformer(30, 8, 1, 2, 16, 32)
    with pytest.raises(NotImplementedError, match="conv_stem_configs"):
        vit.VisionTransformer(32, 8, 1, 2, 16, 32, conv_stem_configs=[object()])
    model = vit.VisionTransformer(32, 8, 1, 2, 16, 32)
    with pytest.raises(ValueError, match=r"\(N, 3, 32, 32\), got \(1, 3, 64, 64\)"):
        model(fw.zeros(1, 3, 64, 64))


def test_every_family_registers_its_builders():
    for module, names in ((mlp, {"mlp"}), (lenet, {"lenet"}), (resnet, {"resnet18", "resnet34", "resnet50"}),
                          (vit, {"vit_b_16", "vit_tiny_16"})):
        assert names <= set(module.MODELS)
        assert all(callable(builder) for builder in module.MODELS.values())


# ---- checkpoints written by torch, loaded through zoo.load -------------------------------------------------------
def test_torch_saved_resnet_checkpoint_loads_through_zoo(tmp_path):
    import zoo
    ref = RefResNet(RefBasic, [2, 2, 2, 2], num_classes=10).eval()
    with torch.no_grad():
        for name, value in ref.state_dict().items():
            if value.is_floating_point():
                value.copy_(torch.rand_like(value) * 0.1 + (0.5 if name.endswith("running_var") else 0.0))
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    model = zoo.load("resnet18", weights=str(path), num_classes=10)
    assert not model.training
    x = np.random.default_rng(10).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        close(model(fw.from_numpy(x)), ref(torch.from_numpy(x)))


def test_vit_checkpoint_with_legacy_mlp_names_loads_through_zoo(tmp_path):
    import zoo
    safetensors_torch = pytest.importorskip("safetensors.torch")
    config = dict(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=24, num_classes=3)
    ref = RefViT(32, 8, 2, 2, 16, 24, num_classes=3).eval()
    with torch.no_grad():
        for value in ref.state_dict().values():
            value.copy_(torch.randn_like(value) * 0.2)
    legacy = {k.replace(".mlp.0.", ".mlp.linear_1.").replace(".mlp.3.", ".mlp.linear_2."): v.contiguous()
              for k, v in ref.state_dict().items()}
    assert "encoder.layers.encoder_layer_1.mlp.linear_2.bias" in legacy
    path = tmp_path / "vit.safetensors"
    safetensors_torch.save_file(legacy, str(path))
    model = zoo.load("vit_tiny_16", weights=str(path), **config)
    x = np.random.default_rng(11).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        close(model(fw.from_numpy(x)), ref(torch.from_numpy(x)))
