"""Small real data sets shipped with the repository (see zoo/data/README.md for sources and licences)."""
import gzip
import os

import numpy as np

import framework as torch

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def load_digits(test_fraction=0.2, seed=0):
    """UCI handwritten digits as ``(x_train, y_train, x_test, y_test)``: float32 pixels in [0, 1], int64 labels."""
    path = os.path.join(DATA_DIR, "digits.csv.gz")
    if not os.path.exists(path):
        raise FileNotFoundError(f"bundled data set missing: looked for {path}")
    with gzip.open(path) as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    order = np.random.default_rng(seed).permutation(len(table))
    table = table[order]
    split = int(len(table) * (1 - test_fraction))
    x = torch.from_numpy(np.ascontiguousarray(table[:, :-1] / 16.0))
    y = torch.from_numpy(table[:, -1].astype(np.int64))
    return x[:split], y[:split], x[split:], y[split:]
