"""Adadelta."""
from ._state import advance, bump, new_step, zeros_like
from .optimizer import Optimizer, _check_unsupported, _to_scalar

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta as ``torch.optim.Adadelta``: v = rho * v + (1 - rho) * g^2,
    delta = sqrt(u + eps) / sqrt(v + eps) * g, u = rho * u + (1 - rho) * delta^2, p -= lr * delta."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_unsupported(capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                        foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in (("foreach", None), ("maximize", False), ("differentiable", False),
                               ("capturable", False)):
                group.setdefault(key, value)

    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            for p in self._params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = new_step()
                    state["square_avg"] = zeros_like(p)
                    state["acc_delta"] = zeros_like(p)
                advance(state["step"])
                square_avg, acc_delta = state["square_avg"], state["acc_delta"]
                self._kernel(p, "adadelta_update")(
                    p._grad._data, p._data, square_avg._data, acc_delta._data, lr=_to_scalar(group["lr"]),
                    rho=group["rho"], eps=group["eps"], weight_decay=group["weight_decay"],
                    maximize=group["maximize"])
                bump(p, square_avg, acc_delta)
        return loss
