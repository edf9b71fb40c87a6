"""Small models the export tests share: name -> (builder of (model, example args))."""
import framework as torch
import framework.nn as nn
import framework.nn.functional as F


class LeNetBN(nn.Module):
    """Conv -> BatchNorm -> ReLU -> MaxPool twice, then AvgPool and two Linear layers."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 4, 5, padding=2), nn.BatchNorm2d(4)
        self.conv2, self.bn2 = nn.Conv2d(4, 8, 3, groups=2), nn.BatchNorm2d(8)
        self.fc1, self.fc2 = nn.Linear(8 * 7 * 7, 16), nn.Linear(16, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2, ceil_mode=True)
        x = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        return F.log_softmax(self.fc2(torch.tanh(self.fc1(x.flatten(1)))), dim=-1)


class EncoderBlock(nn.Module):
    """Pre-norm transformer block written out: layer_norm, attention with softmax, GELU MLP, residuals."""

    def __init__(self, dim=16, heads=2):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5
        mask = torch.ones(t, t).tril() == 0
        att = self.drop(scores.masked_fill(mask, float("-inf")).softmax(-1))
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(self.drop(F.gelu(self.fc1(self.ln2(x)), approximate="tanh")))


class ResBlock(nn.Module):
    """A ResNet basic block with a strided 1x1 downsample, in-place ReLUs and global average pooling."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
        self.down = nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, bias=False), nn.BatchNorm2d(8))
        self.relu = nn.ReLU(inplace=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out)) + self.down(x)
        out = F.adaptive_avg_pool2d(self.relu(out), 1).flatten(1)
        return self.head(out), F.silu(out).sigmoid()


def _randomise_bn(model):
    # fresh BatchNorm statistics are 0 and 1: random ones make the eval-mode arithmetic visible
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return model


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 16), nn.GELU(),
                         nn.Linear(16, 4)), (torch.randn(5, 12),)


def lenet():
    torch.manual_seed(0)
    return _randomise_bn(LeNetBN()), (torch.randn(2, 1, 30, 30),)


def encoder():
    torch.manual_seed(0)
    return EncoderBlock(), (torch.randn(2, 6, 16),)


def resblock():
    torch.manual_seed(0)
    return _randomise_bn(ResBlock()), (torch.randn(2, 4, 8, 8),)


MODELS = {"mlp": mlp, "lenet": lenet, "encoder": encoder, "resblock": resblock}


def zoo_models():
    """Small configurations of the zoo's models (empty when the zoo is not importable)."""
    try:
        from zoo.models import bert, gpt2, lenet as zlenet, mlp as zmlp, resnet, vit
    except ImportError:
        return {}

    def build(factory, *args):
        def make():
            torch.manual_seed(0)
            return factory(), args
        return make

    return {
        "zoo-mlp": build(lambda: zmlp.mlp(in_features=20, hidden_features=(16,)), torch.randn(3, 20)),
        "zoo-lenet": build(zlenet.lenet, torch.randn(2, 1, 32, 32)),
        "zoo-resnet18": build(lambda: resnet.resnet18(num_classes=5), torch.randn(1, 3, 32, 32)),
        "zoo-vit": build(lambda: vit.VisionTransformer(image_size=32, patch_size=16, num_layers=2, num_heads=2,
                                                       hidden_dim=16, mlp_dim=32, num_classes=5),
                         torch.randn(1, 3, 32, 32)),
        "zoo-bert": build(lambda: bert.BertModel(dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                                      intermediate_size=32, vocab_size=50)),
                          torch.randint(0, 50, (1, 7))),
        "zoo-gpt2": build(lambda: gpt2.GPT2LMHeadModel(dict(n_embd=16, n_layer=1, n_head=2, vocab_size=50,
                                                            n_positions=32)), torch.randint(0, 50, (1, 7))),
    }


def eager_outputs(model, args):
    """The model's tensor outputs in eval mode as numpy arrays, flattened in order."""
    from framework.jit.capture import flatten
    model.eval()
    with torch.no_grad():
        result = model(*args)
    return [leaf.numpy() for _, leaf in flatten(result) if isinstance(leaf, torch.Tensor)]
