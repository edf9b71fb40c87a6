"""SPMD launch: logical blocks mapped round-robin onto cores (waves of ``num_cores``)."""


def split_blocks(blocks, num_cores):
    """Blocks per core, block b on core b % num_cores; only cores that get work are returned."""
    per_core = [blocks[c::num_cores] for c in range(min(num_cores, len(blocks)))]
    return per_core or [[]]
