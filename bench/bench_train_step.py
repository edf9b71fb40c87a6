"""A functional MLP training step (784-512-512-10, batch 128, plain SGD): framework vs torch, same maths."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import framework  # noqa: E402
from bench._timing import measure, report, torch  # noqa: E402

SIZES = (784, 512, 512, 10)
BATCH = 128


def make_step(lib):
    F = lib.nn.functional
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        w = lib.tensor(rng.standard_normal((fan_out, fan_in)).astype(np.float32) / fan_in ** 0.5, requires_grad=True)
        b = lib.tensor(np.zeros(fan_out, np.float32), requires_grad=True)
        params += [w, b]
    x = lib.tensor(rng.standard_normal((BATCH, SIZES[0])).astype(np.float32))
    y = lib.tensor(rng.integers(0, SIZES[-1], BATCH))

    def step():
        h = x
        for i in range(0, len(params), 2):
            h = F.linear(h, params[i], params[i + 1])
            if i + 2 < len(params):
                h = F.relu(h)
        loss = F.cross_entropy(h, y)
        for p in params:
            p.grad = None
        loss.backward()
        with lib.no_grad():
            for p in params:
                p.sub_(p.grad, alpha=0.01)
        return loss
    return step


if __name__ == "__main__":
    cands = {"ours": make_step(framework)}
    if torch is not None:
        cands["torch"] = make_step(torch)
    report("MLP 784-512-512-10 train step, batch 128, SGD", [("forward + backward + update", measure(cands))])
