"""LeNet-5 in its modern common form: ReLU activations and max-pooling (LeCun et al. 1998 used scaled tanh,
subsampling layers with trainable coefficients and RBF outputs). Parameter names follow the PyTorch tutorial's
``Net``: ``conv1``, ``conv2``, ``fc1``, ``fc2``, ``fc3``."""
import framework.nn as nn
import framework.nn.functional as F


class LeNet5(nn.Module):
    """LeNet-5 on 32x32 images: conv 6@5x5, max-pool 2, conv 16@5x5, max-pool 2, fc 120, fc 84, fc ``num_classes``.

    >>> import framework as torch
    >>> LeNet5()(torch.zeros(1, 1, 32, 32)).shape
    torch.Size([1, 10])
    """

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        """Logits of shape (N, num_classes) for images of shape (N, in_channels, 32, 32)."""
        if x.ndim != 4 or x.shape[-2:] != (32, 32):
            raise ValueError(f"LeNet5: expected input of shape (N, C, 32, 32), got {tuple(x.shape)}")
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def lenet(**config):
    """A :class:`LeNet5`; keywords ``num_classes`` (10) and ``in_channels`` (1)."""
    return LeNet5(**config)


MODELS = {"lenet": lenet}
