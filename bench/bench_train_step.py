"""A functional MLP training step (784-512-512-10, batch 128, plain SGD): framework vs torch, same maths.

``--device cuda`` runs both on the GPU (each step synchronised); a library without a usable GPU is left out.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import framework  # noqa: E402
from bench._timing import measure, report  # noqa: E402
from bench.bench_training import libraries  # noqa: E402

SIZES = (784, 512, 512, 10)
BATCH = 128


def make_step(lib, device="cpu"):
    F = lib.nn.functional
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        w = lib.tensor(rng.standard_normal((fan_out, fan_in)).astype(np.float32) / fan_in ** 0.5, device=device,
                       requires_grad=True)
        b = lib.tensor(np.zeros(fan_out, np.float32), device=device, requires_grad=True)
        params += [w, b]
    x = lib.tensor(rng.standard_normal((BATCH, SIZES[0])).astype(np.float32), device=device)
    y = lib.tensor(rng.integers(0, SIZES[-1], BATCH), device=device)
    sync = lib.cuda.synchronize if device == "cuda" else (lambda: None)

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
        sync()
        return loss
    return step


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where both libraries run")
    device = parser.parse_args().device
    cands = {key: make_step(lib, device) for key, lib in libraries(device).items()}
    where = f" on {framework.cuda.get_device_name()}" if device == "cuda" else ""
    report(f"MLP 784-512-512-10 train step, batch 128, SGD{where}", [("forward + backward + update", measure(cands))])
