"""Speed of the npu_sim simulator itself: ResNet-50 forward (batch 1, 32 cores) and a numeric GEMM."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from npu_sim.config import ascend910  # noqa: E402
from npu_sim.kernels.gemm import gemm_programs  # noqa: E402
from npu_sim.models import resnet50  # noqa: E402
from npu_sim.network import run_network  # noqa: E402
from npu_sim.program import Machine  # noqa: E402


def best_of(fn, repeat=3):
    """Smallest wall time of ``repeat`` calls (the machine is shared: the minimum is the least noisy)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def numeric_gemm(n=512):
    import numpy as np
    m = Machine(ascend910())
    rng = np.random.default_rng(0)
    a = m.tensor(rng.standard_normal((n, n)), "fp16")
    b = m.tensor(rng.standard_normal((n, n)), "fp16")
    c = m.empty(n, n, "fp16")
    return m.run(gemm_programs(m, a, b, c, cores=4))


if __name__ == "__main__":
    print("## npu_sim simulator speed\n")
    print("| case | wall time | simulated |")
    print("|---|---|---|")
    for batch in (1, 32):
        t, r = best_of(lambda: run_network(ascend910(), resnet50.layers(), batch), 3 if batch == 1 else 1)
        print(f"| ResNet-50 forward, batch {batch}, 32 cores, timing only (54 kernels) | {t:.2f} s | "
              f"{r.images_per_second:,.0f} img/s |")
    t, r = best_of(numeric_gemm, 1)
    print(f"| GEMM 512^3 fp16 with numerics + hazard check, 4 cores ({r.instructions} instr.) | {t:.2f} s | "
          f"{r.total_cycles:,.0f} cycles |")
    t, r = best_of(lambda: Machine(ascend910(), numerics=False).run(
        gemm_programs(*(lambda m: (m, m.empty(4096, 4096, "fp16"), m.empty(4096, 4096, "fp16"),
                                   m.empty(4096, 4096, "fp16")))(Machine(ascend910(), numerics=False)),
                      cores=1)), 1)
    print(f"| GEMM 4096^3 one core, instruction by instruction ({r.instructions} instr.) | {t:.2f} s | "
          f"{r.total_cycles:,.0f} cycles |")
