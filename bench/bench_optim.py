"""One optimizer step over the parameters of an MLP 784-512-512-10 (~670k floats): ours vs torch (when installed)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import framework  # noqa: E402
from bench._timing import measure, report, torch  # noqa: E402

SHAPES = [(512, 784), (512,), (512, 512), (512,), (10, 512), (10,)]


def _arrays():
    rng = np.random.default_rng(0)
    return ([rng.standard_normal(s).astype(np.float32) * 0.05 for s in SHAPES],
            [rng.standard_normal(s).astype(np.float32) * 0.01 for s in SHAPES])


def _ours(name, kwargs):
    weights, grads = _arrays()
    params = [framework.tensor(w, requires_grad=True) for w in weights]
    for p, g in zip(params, grads):
        p.grad = framework.tensor(g)
    return getattr(framework.optim, name)(params, **kwargs).step


def _theirs(name, kwargs):
    weights, grads = _arrays()
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    return getattr(torch.optim, name)(params, **kwargs).step


def optimizer_steps():
    rows = []
    for name, kwargs in [("Adam", {"lr": 1e-3}), ("AdamW", {"lr": 1e-3, "amsgrad": True}),
                         ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}), ("RMSprop", {"lr": 1e-3})]:
        cands = {"ours": _ours(name, kwargs)}
        if torch is not None:
            cands["torch"] = _theirs(name, kwargs)
            cands["torch foreach"] = _theirs(name, dict(kwargs, foreach=True))
            if name != "RMSprop":
                cands["torch fused"] = _theirs(name, dict(kwargs, fused=True))
        args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        rows.append((f"{name}({args}).step(), MLP 784-512-512-10", measure(cands)))
    report("Optimizer step (669,706 float32 parameters)", rows)


if __name__ == "__main__":
    if torch is not None:
        torch.set_num_threads(1)  # ours is single-threaded; a busy 2-core machine also makes torch's threads stall
    optimizer_steps()
