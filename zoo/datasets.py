"""Small real data sets shipped with the repository (see zoo/data/README.md for sources and licences)."""
import gzip
import os

import numpy as np

import framework as torch
import framework.nn.functional as F

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def load_digits(test_fraction=0.2, seed=0, image_size=None):
    """UCI handwritten digits as ``(x_train, y_train, x_test, y_test)``: float32 pixels in [0, 1], int64 labels.

    Pixels come as rows of 64 values, or with ``image_size=S`` as (N, 1, S, S) images: the 8x8 digits resized
    with bilinear interpolation (``image_size=32`` is LeNet-5's input).
    """
    path = os.path.join(DATA_DIR, "digits.csv.gz")
    if not os.path.exists(path):
        raise FileNotFoundError(f"bundled data set missing: looked for {path}")
    with gzip.open(path) as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    order = np.random.default_rng(seed).permutation(len(table))
    table = table[order]
    split = int(len(table) * (1 - test_fraction))
    x = torch.from_numpy(np.ascontiguousarray(table[:, :-1] / 16.0))
    if image_size is not None:
        x = F.interpolate(x.reshape(-1, 1, 8, 8), size=(image_size, image_size), mode="bilinear",
                          align_corners=False)
    y = torch.from_numpy(table[:, -1].astype(np.int64))
    return x[:split], y[:split], x[split:], y[split:]
