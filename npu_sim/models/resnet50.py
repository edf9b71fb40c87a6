"""ResNet-50 v1.5 at 224x224 as its 54 GEMM-lowered layers (53 convolutions + the classifier).

Batch-norm is folded into the weights and ReLU / residual additions into the epilogues (inference),
as REFERENCE §5.5 assumes; pooling is not a GEMM and is left out (it is < 0.1 % of the work).
"""
from ..kernels.conv import ConvShape

STAGES = (("conv2", 3, 64, 56, 1), ("conv3", 4, 128, 56, 2), ("conv4", 6, 256, 28, 2), ("conv5", 3, 512, 14, 2))


def layers():
    """The convolution layers in execution order, then ('fc', 2048, 1000) as a 1x1 'conv' on 1x1."""
    out = [ConvShape("conv1", 3, 64, 224, 224, 7, 2, 3)]
    cin = 64
    for name, blocks, width, size, stride in STAGES:
        for b in range(blocks):
            s = stride if b == 0 else 1
            hin = size if b == 0 else size // stride
            tag = f"{name}_{b + 1}"
            out.append(ConvShape(tag + "a", cin, width, hin, hin, 1, 1, 0))
            out.append(ConvShape(tag + "b", width, width, hin, hin, 3, s, 1))   # v1.5: stride on the 3x3
            hout = hin // s
            out.append(ConvShape(tag + "c", width, 4 * width, hout, hout, 1, 1, 0))
            if b == 0:
                out.append(ConvShape(tag + "_down", cin, 4 * width, hin, hin, 1, s, 0))
            cin = 4 * width
    out.append(ConvShape("fc", 2048, 1000, 1, 1, 1, 1, 0))
    return out


def total_macs(batch=1):
    """Multiply-accumulates of one forward pass."""
    return sum(layer.macs(batch) for layer in layers())


def total_weights():
    """Number of weights of the GEMM layers."""
    return sum(l.cin * l.cout * l.k * l.k for l in layers())
