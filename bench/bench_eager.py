"""Eager overhead and elementwise/reduction throughput: framework vs numpy vs torch (when installed)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import framework  # noqa: E402
from bench._timing import measure, report, torch  # noqa: E402


def dispatch_overhead():
    rows = []
    for n in (1, 1000):
        a, b = framework.ones(n), framework.ones(n)
        cands = {"ours": lambda: a + b, "numpy": lambda: a._data + b._data}
        if torch is not None:
            ta, tb = torch.ones(n), torch.ones(n)
            cands["torch"] = lambda: ta + tb
        rows.append((f"a + b, {n} elements", measure(cands)))
    a = framework.ones(16, requires_grad=True)
    b = framework.ones(16)

    def ours():
        (a * b).sum().backward()
    cands = {"ours": ours}
    if torch is not None:
        ta, tb = torch.ones(16, requires_grad=True), torch.ones(16)

        def theirs():
            (ta * tb).sum().backward()
        cands["torch"] = theirs
    rows.append(("(a*b).sum().backward(), 16 elements", measure(cands)))
    report("Eager dispatch", rows)


def elementwise_bandwidth():
    rows, bandwidth = [], []
    for n in (1_000_000, 25_000_000):
        a, b = framework.ones(n), framework.ones(n)
        cands = {"ours": lambda: a + b, "numpy": lambda: a._data + b._data}
        if torch is not None:
            ta, tb = torch.ones(n), torch.ones(n)
            cands["torch"] = lambda: ta + tb
        times = measure(cands, repeat=9)
        rows.append((f"a + b float32, {n:,} elements", times))
        bandwidth.append(f"{12 * n / times['ours'] / 1e9:.1f} GB/s")
    report("Large elementwise (12 bytes moved per element)", rows, ("ours: bandwidth", bandwidth))


def reductions():
    rows = []
    x = framework.randn(1024, 1024) if hasattr(framework, "randn") else framework.ones(1024, 1024)
    cands = {"ours": lambda: x.sum(1), "numpy": lambda: x._data.sum(1)}
    if torch is not None:
        tx = torch.from_numpy(np.array(x._data))
        cands["torch"] = lambda: tx.sum(1)
    rows.append(("sum(dim=1), 1024x1024", measure(cands)))
    if hasattr(framework, "softmax"):
        cands = {"ours": lambda: x.softmax(1),
                 "numpy": lambda: np.exp(x._data - x._data.max(1, keepdims=True)) /
                 np.exp(x._data - x._data.max(1, keepdims=True)).sum(1, keepdims=True)}
        if torch is not None:
            cands["torch"] = lambda: tx.softmax(1)
        rows.append(("softmax(dim=1), 1024x1024", measure(cands)))
    report("Reductions", rows)


if __name__ == "__main__":
    dispatch_overhead()
    elementwise_bandwidth()
    reductions()
