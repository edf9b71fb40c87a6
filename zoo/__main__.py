"""``python -m zoo train``: the quick training run on the bundled digits data."""
import argparse
import sys
import time

import framework as torch
from zoo.datasets import load_digits


def _init(shape, fan_in):
    bound = 1.0 / fan_in ** 0.5
    return (torch.rand(*shape) * 2 - 1).mul_(bound).requires_grad_()


def train_mlp(epochs=20, batch_size=64, lr=0.1, momentum=0.9, seed=0, quiet=False):
    """Train a 64-128-10 MLP with hand-written SGD on the tape; returns the test accuracy."""
    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = load_digits()
    params = [_init((64, 128), 64), _init((128,), 64), _init((128, 10), 128), _init((10,), 128)]
    velocity = [torch.zeros_like(p) for p in params]

    def forward(x):
        w1, b1, w2, b2 = params
        return ((x @ w1 + b1).relu()) @ w2 + b2

    n = x_train.shape[0]
    start = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(n)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            logits = forward(x_train[idx])
            loss = -logits.log_softmax(dim=1).gather(1, y_train[idx].unsqueeze(1)).mean()
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p, v in zip(params, velocity):
                    v.mul_(momentum).add_(p.grad)
                    p.sub_(v, alpha=lr)
            total += loss.item() * idx.shape[0]
        if not quiet:
            print(f"epoch {epoch + 1:3d}  loss {total / n:.4f}")
    with torch.no_grad():
        accuracy = (forward(x_test).argmax(dim=1) == y_test).float().mean().item()
    if not quiet:
        print(f"test accuracy {accuracy:.4f}  ({time.perf_counter() - start:.1f} s)")
    return accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m zoo", description="Model zoo command line")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a model on bundled data")
    train.add_argument("model", nargs="?", default="mlp", choices=["mlp"])
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    accuracy = train_mlp(epochs=args.epochs, seed=args.seed)
    return 0 if accuracy > 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
