"""Choosing output tiles for a GEMM-shaped layer on N cores (what a lowering's tiler would do)."""
from ..dtypes import itemsize
from ..fractal import c0_of, ceil_to


def choose_tiling(cfg, M, K, N, cores, dtype="fp16", a_gm_bytes=None, a_l1_bytes=None,
                  k1_options=(512, 256, 128, 64)):
    """(bm, bn, k1, bk) minimising the busiest core's estimated time (cube vs its GM port).

    Constraints: L0C holds two bm x bn fp32 tiles, L0A/L0B two k-steps, L1 two K-blocks of A and B.
    ``a_gm_bytes(bm)`` (A's GM bytes per output tile) and ``a_l1_bytes(bm, k1)`` (its L1 block)
    override the plain-GEMM values for img2col convolutions.
    """
    size = itemsize(dtype)
    k0 = c0_of(dtype)
    best = None
    for bn in range(16, min(ceil_to(N, 16), 256) + 1, 16):
        for bm in range(16, min(ceil_to(M, 16), 1024) + 1, 16):
            if bm * bn * 4 * 2 > cfg.l0c_bytes:
                continue
            bk = next((k for k in (64, 32, 16) if bm * k * size * 2 <= cfg.l0a_bytes
                       and k * bn * size * 2 <= cfg.l0b_bytes), None)
            if bk is None:
                continue
            a_l1 = a_l1_bytes or (lambda bm_, k_: bm_ * k_ * size)
            k1 = next((k for k in k1_options if (a_l1(bm, k) + bn * k * size) * 2 <= cfg.l1_bytes), None)
            if k1 is None:
                continue
            tiles = -(-M // bm) * -(-N // bn)
            per_core = -(-tiles // cores)
            steps = -(-K // bk)
            step_fr = (bm // 16) * -(-bk // k0) * (bn // 16)
            load = (2 * cfg.dma_latency_local + 2 + bm * bk * size / cfg.bw_l1_l0a
                    + bk * bn * size / cfg.bw_l1_l0b)
            cube = per_core * steps * max(step_fr + cfg.mmad_issue_overhead + 2, load)
            a_bytes = a_gm_bytes(bm) if a_gm_bytes else bm * K * size
            gm = per_core * (a_bytes + K * bn * size) / cfg.bw_gm_l1 + per_core * -(-K // k1) * 2 * 110
            # the first K-block's load and the last tile's drain are not hidden by double buffering
            share = min(cfg.bw_gm_l1, cfg.hbm_bytes_per_cycle / min(cores, tiles))
            fill = (a_bytes * min(k1, K) / K + min(k1, K) * bn * size) / share
            drain = bm * bn * (4 / (cfg.bw_l0c_ub or cfg.bw_l0c_gm) + size / cfg.bw_ub_gm)
            est = max(cube, gm) + fill + drain
            if best is None or est < best[0] - 1e-9:
                best = (est, bm, bn, k1, bk)
    if best is None:
        raise ValueError(f"no tiling of {M}x{K}x{N} fits {cfg.name}'s buffers")
    return best[1:]
