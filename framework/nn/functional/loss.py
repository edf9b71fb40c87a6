"""Loss functions of ``framework.nn.functional``, written with framework ops.

Each loss computes its per-element values and hands them to ``_reduce`` ('none', 'mean' or 'sum').
Class-index losses pick the target's log-probability with the ``class_pick`` op, whose gradient
scatters back with ``class_place`` (each is the other's derivative, so double backward works).
"""
import math
import warnings

from ... import _dtype
from ..._tensor import Tensor
from ...ops.elementwise import where, xlogy
from ...ops.registry import dispatch, register_op
from ...ops.softmax import log_softmax
from .activation import logsigmoid

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss",
           "margin_ranking_loss", "triplet_margin_loss", "hinge_embedding_loss", "soft_margin_loss",
           "multilabel_soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss", "ctc_loss"]


# ----- helpers ------------------------------------------------------------------------------------
def _class_pick(x, target):
    return dispatch(_pick_op, (x, target))


def _class_place(g, target, classes):
    return dispatch(_place_op, (g, target), {"classes": classes})


_pick_op = register_op("class_pick", lambda n, g: (_class_place(g, n.saved[1], n.input_meta[0][0][-1]), None),
                       differentiable_inputs=(0,))
_place_op = register_op("class_place", lambda n, g: (_class_pick(g, n.saved[1]), None), differentiable_inputs=(0,))


def _reduction_arg(size_average, reduce, reduction):
    """Map the legacy ``size_average``/``reduce`` flags onto ``reduction``, as PyTorch does."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    legacy = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{legacy}' instead.",
                  UserWarning, stacklevel=3)
    return legacy


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _check_reduction(reduction):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _warn_broadcast(input, target, name):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      "This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      "same size.", UserWarning, stacklevel=3)


def _check_tensor(value, name, arg):
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not {type(value).__name__}")


# ----- classification -----------------------------------------------------------------------------
def _class_layout(input, target, name):
    """Move classes last: (N, C, d1, ...) -> (N, d1, ..., C) and (C,) -> (1, C); check the target against it."""
    if target.dtype not in (_dtype.int64, _dtype.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_type_name(target.dtype)}")
    if input.ndim == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    if input.ndim == 1:
        if target.ndim > 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        return input.unsqueeze(0), target.reshape(1)
    if target.ndim == 0 or target.shape[0] != input.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0] if target.ndim else 0}).")
    if input.ndim == 2 and target.ndim != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if input.ndim > 2 and tuple(target.shape[1:]) != tuple(input.shape[2:]):
        raise RuntimeError(f"Expected target size {[input.shape[0]] + list(input.shape[2:])}, got {list(target.shape)}")
    return (input.movedim(1, -1) if input.ndim > 2 else input), target.to(_dtype.int64)


def _type_name(d):
    from ...ops.registry import _type_word
    return _type_word(d)


def _target_weights(target, weight, ignore_index, classes, dtype):
    """(safe target, per-sample weight) with ignored samples given class 0 and weight 0; checks class bounds."""
    ignored = target == ignore_index
    values = target._data[~ignored._data]
    if values.size and (values.min() < 0 or values.max() >= classes):
        bad = values[(values < 0) | (values >= classes)][0]
        raise IndexError(f"Target {bad} is out of bounds.")
    safe = where(ignored, 0, target)
    if weight is None:
        w = (~ignored).to(dtype)
    else:
        w = where(ignored, 0.0, _class_pick(weight.detach().expand(tuple(target.shape) + (classes,)), safe))
    return ignored, safe, w


def _nll(logp, target, weight, ignore_index, reduction):
    """Weighted negative log-likelihood of class-index ``target`` under log-probabilities ``logp`` (classes last)."""
    classes = logp.shape[-1]
    if weight is not None and weight.numel() != classes:
        raise RuntimeError(f"weight tensor should be defined either for all {classes} classes or no classes but "
                           f"got weight tensor of shape: {list(weight.shape)}")
    ignored, safe, w = _target_weights(target, weight, ignore_index, classes, logp.dtype)
    loss = where(ignored, 0.0, -_class_pick(logp, safe) * w)
    if reduction == "sum":
        return loss.sum(), w, ignored
    if reduction == "mean":
        return loss.sum() / w.sum(), w, ignored
    return loss, w, ignored


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of class-index targets given log-probabilities ``input`` (classes on dim 1)."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    _check_reduction(reduction)
    squeeze = input.ndim == 1
    logp, target = _class_layout(input, target, "nll_loss")
    loss = _nll(logp, target, weight, ignore_index, reduction)[0]
    return loss.reshape(()) if squeeze and reduction == "none" else loss


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Cross entropy between logits ``input`` (classes on dim 1) and class indices or class probabilities."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 1 if input.ndim > 1 else 0
    logp = log_softmax(input, class_dim)
    if target.dtype.is_floating_point:
        return _soft_cross_entropy(logp, target, weight, reduction, label_smoothing, class_dim)
    squeeze = input.ndim == 1
    logp, target = _class_layout(logp, target, "cross_entropy")
    loss, w, ignored = _nll(logp, target, weight, ignore_index, reduction)
    if label_smoothing > 0:
        classes = logp.shape[-1]
        weighted = logp if weight is None else logp * weight
        smooth = where(ignored, 0.0, -weighted.sum(-1))
        if reduction == "mean":
            smooth = smooth.sum() / (w.sum() if weight is not None else (~ignored).sum())
        elif reduction == "sum":
            smooth = smooth.sum()
        loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / classes)
    return loss.reshape(()) if squeeze and reduction == "none" else loss


def _soft_cross_entropy(logp, target, weight, reduction, label_smoothing, class_dim):
    if tuple(target.shape) != tuple(logp.shape):
        raise RuntimeError(f"Expected target size {list(logp.shape)}, got {list(target.shape)}")
    classes = logp.shape[class_dim]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    terms = logp * target
    if weight is not None:
        terms = terms * weight.reshape((classes,) + (1,) * (logp.ndim - class_dim - 1))
    loss = -terms.sum(class_dim)
    if reduction == "mean":
        return loss.sum() / (logp.numel() // classes) if logp.numel() else loss.sum() / 0.0
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)) for probabilities ``input``; the logs are clamped at -100."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    values = input.detach()._values()
    if values.size and not ((values >= 0) & (values <= 1)).all():
        raise RuntimeError("all elements of input should be between 0 and 1")
    loss = -(target * input.log().clamp(min=-100) + (1 - target) * (1 - input).log().clamp(min=-100))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Binary cross entropy of sigmoid(``input``), computed stably from the logits."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    if pos_weight is None:
        loss = (1 - target) * input - logsigmoid(input)
    else:
        loss = (1 - target) * input - ((pos_weight - 1) * target + 1) * logsigmoid(input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) pointwise: target * (log target - input); 'batchmean' divides by the batch size."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    loss = target.exp() * (target - input) if log_target else xlogy(target, target) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


# ----- regression ---------------------------------------------------------------------------------
def _pointwise_regression(input, target, size_average, reduce, reduction, name):
    reduction = _reduction_arg(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_tensor(input, name, "input")
    _check_tensor(target, name, "target")
    _warn_broadcast(input, target, name)
    return input - target, reduction


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Squared error (input - target) ** 2, optionally weighted."""
    diff, reduction = _pointwise_regression(input, target, size_average, reduce, reduction, "mse_loss")
    loss = diff * diff
    return _reduce(loss * weight if weight is not None else loss, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Absolute error |input - target|, optionally weighted."""
    diff, reduction = _pointwise_regression(input, target, size_average, reduce, reduction, "l1_loss")
    loss = diff.abs()
    return _reduce(loss * weight if weight is not None else loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (L1 when beta is 0)."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    diff, reduction = _pointwise_regression(input, target, size_average, reduce, reduction, "smooth_l1_loss")
    a = diff.abs()
    if beta == 0:
        return _reduce(a, reduction)
    return _reduce(where(a < beta, diff * diff * (0.5 / beta), a - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    diff, reduction = _pointwise_regression(input, target, None, None, reduction, "huber_loss")
    a = diff.abs()
    loss = where(a < delta, diff * diff * 0.5, (a - 0.5 * delta) * delta)
    return _reduce(loss * weight if weight is not None else loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Negative log-likelihood of ``target`` under Poisson(rate), rate = exp(input) or input."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    _check_reduction(reduction)
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + (target * (2 * math.pi)).log() * 0.5
        loss = loss + where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Negative log-likelihood of ``target`` under N(input, var); var is clamped at eps without cutting its grad."""
    _check_reduction(reduction)
    if isinstance(var, (int, float)):
        import framework
        var = framework.full_like(input, var)
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if (var.detach()._values() < 0).any():
        raise ValueError("var has negative entry/entries")
    # The clamp only keeps log(var) finite: the gradient passes through it unchanged.
    var = var + (var.detach().clamp(min=eps) - var.detach())
    loss = ((var.log() + (input - target) ** 2 / var)) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ----- margin and embedding losses ----------------------------------------------------------------
def _pairwise_distance(x1, x2, p, eps):
    d = x1 - x2 + eps
    if p == 2:
        return (d * d).sum(-1).sqrt()
    if p == math.inf:
        return d.abs().amax(-1)
    return (d.abs() ** p).sum(-1) ** (1.0 / p)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) for target 1, max(0, cos(x1, x2) - margin) for target -1."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    _check_reduction(reduction)
    if input1.ndim != input2.ndim or tuple(input1.shape) != tuple(input2.shape):
        raise RuntimeError(f"cosine_embedding_loss: expected input1 and input2 to have the same shape, but got "
                           f"{list(input1.shape)} and {list(input2.shape)}")
    if input1.ndim not in (1, 2):
        raise RuntimeError(f"cosine_embedding_loss: expected input1 and input2 to be 1D or 2D, got "
                           f"{input1.ndim}D input")
    eps = 1e-12
    dot = (input1 * input2).sum(-1)
    cos = dot / (((input1 * input1).sum(-1) + eps) * ((input2 * input2).sum(-1) + eps)).sqrt()
    loss = where(target == 1, 1 - cos, 0.0) + where(target == -1, (cos - margin).clamp(min=0), 0.0)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target * (x1 - x2) + margin)."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    _check_reduction(reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) with p-norm pairwise distances."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    _check_reduction(reduction)
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {dims[0]}D, positive {dims[1]}D, and negative {dims[2]}D "
                           "inputs")
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: expected margin to be greater than 0, got {margin} instead")
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        import framework
        d_neg = framework.minimum(d_neg, _pairwise_distance(positive, negative, p, eps))
    return _reduce((d_pos - d_neg + margin).clamp(min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """x where target is 1, max(0, margin - x) where target is -1."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    _check_reduction(reduction)
    loss = where(target != 1, (margin - input).clamp(min=0), 0.0) + where(target != -1, input, 0.0)
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input))."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    _check_reduction(reduction)
    return _reduce(-logsigmoid(target * input), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Per-class binary cross entropy on logits, averaged over classes (the last dim)."""
    reduction = _reduction_arg(size_average, reduce, reduction)
    _check_reduction(reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.mean(input.ndim - 1) if input.ndim else loss, reduction)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist temporal classification loss (not implemented yet)."""
    raise NotImplementedError("ctc_loss is not implemented in this framework yet")
