"""Vision Transformer (Dosovitskiy et al. 2020) with torchvision's ``VisionTransformer`` module names and
initialisation, so torchvision checkpoints load with ``load_state_dict(strict=True)``: ``conv_proj``,
``class_token``, ``encoder.pos_embedding``, ``encoder.layers.encoder_layer_N.{ln_1, self_attention, ln_2,
mlp.0, mlp.3}``, ``encoder.ln``, ``heads.head``. ``self_attention`` is an ``nn.MultiheadAttention``
(``in_proj_weight``, ``out_proj``)."""
import math
from collections import OrderedDict

import framework as torch
import framework.nn as nn


class MLPBlock(nn.Sequential):
    """The transformer's feed-forward block: Linear, GELU, Dropout, Linear, Dropout (indices 0 to 4)."""

    def __init__(self, in_dim, mlp_dim, dropout):
        super().__init__(nn.Linear(in_dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, in_dim),
                         nn.Dropout(dropout))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)


class EncoderBlock(nn.Module):
    """Pre-norm transformer layer: x + attention(ln_1(x)), then + mlp(ln_2(.))."""

    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout, eps=1e-6):
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden_dim, eps=eps)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads, dropout=attention_dropout,
                                                    batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(hidden_dim, eps=eps)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, x):
        """(N, S, hidden_dim) -> (N, S, hidden_dim)."""
        if x.ndim != 3:
            raise ValueError(f"EncoderBlock: expected (batch_size, seq_length, hidden_dim), got {tuple(x.shape)}")
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = x + self.dropout(y)
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Learned position embedding, a stack of :class:`EncoderBlock` s and a final LayerNorm."""

    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout, eps=1e-6):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, hidden_dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout, attention_dropout, eps))
            for i in range(num_layers)))
        self.ln = nn.LayerNorm(hidden_dim, eps=eps)

    def forward(self, x):
        """(N, seq_length, hidden_dim) -> (N, seq_length, hidden_dim)."""
        if x.ndim != 3:
            raise ValueError(f"Encoder: expected (batch_size, seq_length, hidden_dim), got {tuple(x.shape)}")
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """Patchify with a strided convolution, prepend a class token, encode, classify the class token.

    >>> import framework as torch
    >>> m = VisionTransformer(32, 8, num_layers=1, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=5)
    >>> m(torch.zeros(1, 3, 32, 32)).shape
    torch.Size([1, 5])
    """

    def __init__(self, image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, dropout=0.0,
                 attention_dropout=0.0, num_classes=1000, representation_size=None, conv_stem_configs=None):
        super().__init__()
        if conv_stem_configs is not None:
            raise NotImplementedError("VisionTransformer: conv_stem_configs is not supported")
        if image_size % patch_size:
            raise ValueError(f"VisionTransformer: image_size {image_size} is not divisible by patch_size "
                             f"{patch_size}")
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim
        self.num_classes = num_classes
        self.representation_size = representation_size
        self.conv_proj = nn.Conv2d(3, hidden_dim, kernel_size=patch_size, stride=patch_size)
        self.seq_length = (image_size // patch_size) ** 2 + 1
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.encoder = Encoder(self.seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                               attention_dropout)
        heads = OrderedDict()
        if representation_size is None:
            heads["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
            heads["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads)
        self._init_weights()

    def _init_weights(self):
        fan_in = self.conv_proj.in_channels * self.patch_size ** 2
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(self.conv_proj.bias)
        if hasattr(self.heads, "pre_logits"):
            nn.init.trunc_normal_(self.heads.pre_logits.weight, std=math.sqrt(1 / self.heads.pre_logits.in_features))
            nn.init.zeros_(self.heads.pre_logits.bias)
        # A zero head starts every class at the same logit, as the paper's fine-tuning recipe does.
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x):
        """(N, 3, H, W) images -> (N, H/p * W/p, hidden_dim) patch embeddings."""
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != self.image_size or x.shape[3] != self.image_size:
            raise ValueError(f"VisionTransformer: expected input of shape (N, 3, {self.image_size}, "
                             f"{self.image_size}), got {tuple(x.shape)}")
        n = x.shape[0]
        x = self.conv_proj(x)
        return x.reshape(n, self.hidden_dim, -1).permute(0, 2, 1)

    def forward(self, x):
        """Logits of shape (N, num_classes) for images of shape (N, 3, image_size, image_size)."""
        x = self._process_input(x)
        class_token = self.class_token.expand(x.shape[0], -1, -1)
        x = self.encoder(torch.cat([class_token, x], dim=1))
        return self.heads(x[:, 0])


def _vit(image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, config):
    settings = dict(image_size=image_size, patch_size=patch_size, num_layers=num_layers, num_heads=num_heads,
                    hidden_dim=hidden_dim, mlp_dim=mlp_dim)
    settings.update(config)
    return VisionTransformer(**settings)


def vit_b_16(**config):
    """ViT-B/16 at 224x224: 12 layers, 12 heads, hidden 768, MLP 3072; keywords override any setting."""
    return _vit(224, 16, 12, 12, 768, 3072, config)


def vit_b_32(**config):
    """ViT-B/32 at 224x224: 12 layers, 12 heads, hidden 768, MLP 3072."""
    return _vit(224, 32, 12, 12, 768, 3072, config)


def vit_l_16(**config):
    """ViT-L/16 at 224x224: 24 layers, 16 heads, hidden 1024, MLP 4096."""
    return _vit(224, 16, 24, 16, 1024, 4096, config)


def vit_tiny_16(**config):
    """ViT-Ti/16 at 224x224 (DeiT-tiny's shape): 12 layers, 3 heads, hidden 192, MLP 768."""
    return _vit(224, 16, 12, 3, 192, 768, config)


def remap_state_dict(name, state_dict):
    """Rename the MLP keys of checkpoints saved before torchvision's ViT MLP block became ``torchvision.ops.MLP``
    (``mlp.linear_1`` / ``mlp.linear_2``; torchvision still converts them on load) to ``mlp.0`` / ``mlp.3``."""
    renamed = {}
    for key, value in state_dict.items():
        for old, new in ((".mlp.linear_1.", ".mlp.0."), (".mlp.linear_2.", ".mlp.3.")):
            key = key.replace(old, new)
        renamed[key] = value
    return renamed


MODELS = {"vit_b_16": vit_b_16, "vit_b_32": vit_b_32, "vit_l_16": vit_l_16, "vit_tiny_16": vit_tiny_16}
