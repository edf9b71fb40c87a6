"""A multilayer perceptron with configurable layer sizes, laid out like ``torchvision.ops.MLP``."""
import framework.nn as nn

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU, "sigmoid": nn.Sigmoid}


class MLP(nn.Sequential):
    """Flatten the input, then ``Linear -> activation -> Dropout`` per hidden size and a final ``Linear -> Dropout``.

    Every block keeps its ``Dropout`` (even at ``p=0``) so the ``state_dict`` indices do not depend on ``dropout``:
    ``MLP(64, (128,), 10)`` has ``0.weight`` / ``0.bias`` (64 -> 128) and ``3.weight`` / ``3.bias`` (128 -> 10).

    >>> import framework as torch
    >>> MLP(64, (128,), 10)(torch.zeros(2, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_features=784, hidden_features=(256, 128), num_classes=10, activation="relu", dropout=0.0,
                 bias=True):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"MLP: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if in_features < 1 or num_classes < 1 or any(h < 1 for h in hidden_features):
            raise ValueError(f"MLP: layer sizes must be positive, got in_features={in_features}, "
                             f"hidden_features={tuple(hidden_features)}, num_classes={num_classes}")
        layers, width = [], in_features
        for hidden in hidden_features:
            layers += [nn.Linear(width, hidden, bias=bias), _ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = hidden
        layers += [nn.Linear(width, num_classes, bias=bias), nn.Dropout(dropout)]
        super().__init__(*layers)
        self.in_features = in_features

    def forward(self, x):
        """Logits of shape (N, num_classes) for inputs of shape (N, ...) with ``in_features`` values each."""
        x = x.flatten(1)
        if x.shape[1] != self.in_features:
            raise ValueError(f"MLP: expected {self.in_features} input features per sample, got {x.shape[1]}")
        return super().forward(x)


def mlp(**config):
    """An :class:`MLP`; keywords as its constructor (defaults: 784 -> 256 -> 128 -> 10, ReLU)."""
    return MLP(**config)


MODELS = {"mlp": mlp}
