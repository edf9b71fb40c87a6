"""Physical limits of a chip (REFERENCE §6) and the roofline plot of simulated kernels."""


def chip_limits(cfg, dtype="fp16"):
    """Peak cube FLOP/s, HBM and aggregate L2 bandwidth (B/s) and the ridge points (FLOP/B)."""
    peak = cfg.peak_flops(dtype)
    l2 = cfg.num_cores * cfg.l2_read_bw_per_core * cfg.clock_hz
    port = cfg.bw_gm_l1 * cfg.clock_hz
    return {"peak_flops": peak, "hbm_bw": cfg.hbm_bw_chip, "l2_bw": l2,
            "ridge_hbm": peak / cfg.hbm_bw_chip, "ridge_l2": peak / l2,
            "core_ridge": cfg.peak_flops(dtype, 1) / port}


def attainable(cfg, intensity, dtype="fp16"):
    """Roofline: min(peak, intensity x HBM bandwidth), FLOP/s."""
    lim = chip_limits(cfg, dtype)
    return min(lim["peak_flops"], intensity * lim["hbm_bw"])


def plot_roofline(cfg, points, path, title=None):
    """Write a log-log roofline PNG; ``points`` = [(label, FLOP/B, achieved FLOP/s)]. Needs matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    lim = chip_limits(cfg)
    x = np.logspace(0, 4, 200)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(x, np.minimum(lim["peak_flops"], x * lim["hbm_bw"]) / 1e12, "k-", label="HBM roof")
    ax.loglog(x, np.minimum(lim["peak_flops"], x * lim["l2_bw"]) / 1e12, "k--", label="L2 roof")
    for label, intensity, flops in points:
        ax.loglog([intensity], [flops / 1e12], "o", label=f"{label}: {flops / 1e12:.0f} TFLOP/s")
    ax.set_xlabel("arithmetic intensity (FLOP / HBM byte)")
    ax.set_ylabel("TFLOP/s")
    ax.set_title(title or f"{cfg.name}: simulated kernels vs chip limits")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def simulated_points(cfg):
    """Simulate the §6 plot kernels; returns [(label, FLOP/B over unique HBM bytes, FLOP/s)]."""
    from .kernels.conv import ConvShape, conv_layer_programs
    from .kernels.gemm import gemm_programs
    from .program import Machine

    points = []
    for label, (M, K, N) in (("GEMV-16 (16x8192x8192)", (16, 8192, 8192)), ("GEMM 4096^3", (4096,) * 3)):
        m = Machine(cfg, numerics=False)
        a, b, c = m.empty(M, K, "fp16"), m.empty(K, N, "fp16"), m.empty(M, N, "fp16")
        r = m.run(gemm_programs(m, a, b, c, coarse=True), launch=False)
        points.append((label, 2 * M * K * N / (2 * (M * K + K * N + M * N)), 2 * M * K * N / r.seconds))
    for label, shape in (("1x1 conv stage 2, b32", ConvShape("c", 64, 256, 56, 56, 1)),
                         ("3x3 conv stage 2, b32", ConvShape("c", 64, 64, 56, 56, 3, 1, 1)),
                         ("3x3 conv stage 5, b32", ConvShape("c", 512, 512, 7, 7, 3, 1, 1))):
        m = Machine(cfg, numerics=False)
        programs, _ = conv_layer_programs(m, shape, 32)
        r = m.run(programs, launch=False)
        hbm = 2 * (shape.cin * shape.cout * shape.k * shape.k + 32 * (shape.cin * shape.h * shape.w
                                                                       + shape.cout * shape.ho * shape.wo))
        flops = 2 * shape.macs(32)
        points.append((label, flops / hbm, flops / r.seconds))
    return points
