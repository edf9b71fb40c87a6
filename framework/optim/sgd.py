"""Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight decay."""
from ._state import bump, data, zeros_like
from .optimizer import Optimizer, _check_unsupported, _to_scalar

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD as ``torch.optim.SGD``: with g = grad (+ weight_decay * p), buf = momentum * buf + (1 - dampening) * g,
    p -= lr * (g + momentum * buf if nesterov else buf); without momentum p -= lr * g."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False,
                 foreach=None, differentiable=False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_unsupported(differentiable=differentiable)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            momentum = group["momentum"]
            for p in self._params_with_grad(group):
                buf, first = None, False
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = zeros_like(p)
                        first = True
                self._kernel(p, "sgd_update")(
                    p._grad._data, p._data, data(buf), lr=lr, momentum=momentum, dampening=group["dampening"],
                    weight_decay=_to_scalar(group["weight_decay"]), nesterov=group["nesterov"],
                    maximize=group["maximize"], first=first)
                bump(p, buf)
        return loss
