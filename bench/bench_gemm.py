"""float32 GEMM: ``framework.matmul`` vs numpy's BLAS vs torch (when installed).

Our matmul hands contiguous arrays straight to numpy's BLAS, so at large sizes it should reach
>= 90% of numpy's rate; the gap at small sizes is the per-op dispatch cost.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import framework  # noqa: E402
from bench._timing import measure, report, torch  # noqa: E402

CASES = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048), (128, 512, 512)]


def gemm():
    rng = np.random.default_rng(0)
    rows, rates = [], []
    for m, k, n in CASES:
        a_np = rng.standard_normal((m, k), dtype=np.float32)
        b_np = rng.standard_normal((k, n), dtype=np.float32)
        a, b = framework.from_numpy(a_np), framework.from_numpy(b_np)
        cands = {"ours": lambda: framework.matmul(a, b), "numpy": lambda: np.matmul(a_np, b_np)}
        if torch is not None:
            ta, tb = torch.from_numpy(a_np), torch.from_numpy(b_np)
            cands["torch"] = lambda: torch.matmul(ta, tb)
        repeat = 7 if m * k * n >= 2048 ** 3 else 15
        times = measure(cands, repeat=repeat)
        flops = 2.0 * m * k * n
        rows.append((f"{m}x{k} @ {k}x{n}", times))
        rates.append(" / ".join(f"{flops / times[name] / 1e9:.1f}" for name in cands)
                     + f" ({times['numpy'] / times['ours']:.0%} of numpy)")
    header = "GFLOP/s " + " / ".join(["ours", "numpy"] + (["torch"] if torch is not None else []))
    report("float32 matmul (interleaved, median)", rows, (header, rates))


if __name__ == "__main__":
    gemm()
