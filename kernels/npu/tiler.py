"""Tile sizes that fit the AI core's buffers, with every level double-buffered."""
from functools import lru_cache

from npu_sim.fractal import layout_elems
from npu_sim.kernels.tiling import choose_tiling

from ._common import CONFIG


@lru_cache(maxsize=1024)
def gemm_tiles(M, K, N, batch=1):
    """(bm, bn, k1, bk) for an fp16 GEMM with fp32 output: two of each L1 block, L0A/L0B step, L0C and UB tile.

    ``choose_tiling`` already keeps two tiles in L0A, L0B, L0C and L1 while minimising the busiest core's
    time; the UB holds the two fp32 output tiles the 910's L0C->UB->GM epilogue needs, checked here. A
    ``batch`` of such products in one launch shares the cores between them.
    """
    bm, bn, k1, bk = choose_tiling(CONFIG, M, K, N, max(1, CONFIG.num_cores // batch))
    if 2 * layout_elems(bm, bn, "NZ", 16) * 4 > CONFIG.ub_bytes:
        raise ValueError(f"npu tiler: output tile {bm}x{bn} does not fit twice in the "
                         f"{CONFIG.ub_bytes}-byte UB")
    return bm, bn, k1, bk


# the least input a core is given: below it, another core's launch and GM latency cost more than its share saves
MIN_CORE_BYTES = 16 * 1024


def vector_chunk(n, buffers, itemsize):
    """Elements per UB tile so that ``buffers`` tiles, each twice (ping-pong), fit the UB and the cores share
    the work (each at least ``MIN_CORE_BYTES`` of it).

    Chunks are whole 256-byte vector repeats so every instruction but the last runs full width.
    """
    per = CONFIG.vector_bytes_per_repeat // itemsize
    fit = CONFIG.ub_bytes // (2 * buffers * itemsize) // per * per
    spread = max(-(-n // CONFIG.num_cores), MIN_CORE_BYTES // itemsize)
    return max(per, min(fit, -(-spread // per) * per))
