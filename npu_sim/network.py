"""Whole networks: every layer simulated as its own kernel on the chip, one L2 shared across them."""
from dataclasses import dataclass, field

from .kernels.conv import conv_layer_programs
from .program import Machine
from .shared import L2Cache


@dataclass
class LayerResult:
    """One layer's simulated time next to its roofline bound."""

    name: str
    gemm: tuple
    macs: int
    seconds: float            # simulated, launch overhead included
    cube_utilisation: float
    roofline_seconds: float   # max(cube at peak, HBM bytes / HBM bandwidth)
    bound: str                # which roofline term dominates: 'compute' or 'memory'
    hbm_bytes: int


@dataclass
class NetworkResult:
    """A forward pass: per-layer rows and totals."""

    batch: int
    layers: list = field(default_factory=list)

    @property
    def seconds(self):
        return sum(l.seconds for l in self.layers)

    @property
    def images_per_second(self):
        return self.batch / self.seconds

    @property
    def roofline_images_per_second(self):
        return self.batch / sum(l.roofline_seconds for l in self.layers)

    def table(self):
        """The layer-by-layer table as text."""
        width = max([14] + [len(l.name) + 1 for l in self.layers])    # zoo layer names are dotted paths
        rows = [f"{'layer':<{width}}{'M x K x N':>22}{'GMAC':>8}{'time us':>10}{'cube util':>10}"
                f"{'roofline us':>12}  bound"]
        for l in self.layers:
            m, k, n = l.gemm
            rows.append(f"{l.name:<{width}}{f'{m}x{k}x{n}':>22}{l.macs / 1e9:>8.3f}{l.seconds * 1e6:>10.1f}"
                        f"{l.cube_utilisation:>10.2f}{l.roofline_seconds * 1e6:>12.1f}  {l.bound}")
        return "\n".join(rows)


def layer_roofline(config, shape, batch, cores):
    """(seconds, bound, HBM bytes) of a conv layer: cube at peak vs weights+activations through HBM."""
    macs = shape.macs(batch)
    compute = macs / (config.cube_macs_per_cycle() * config.clock_hz * cores)
    hbm_bytes = 2 * (shape.cin * shape.cout * shape.k * shape.k
                     + batch * (shape.cin * shape.h * shape.w + shape.cout * shape.ho * shape.wo))
    memory = hbm_bytes / config.hbm_bw_chip
    return max(compute, memory), ("compute" if compute >= memory else "memory"), hbm_bytes


def _progress_bar(total):
    """A tqdm bar on stderr, or None when tqdm (an optional dependency) is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="simulate", unit="layer", leave=False, dynamic_ncols=True)


def run_network(config, layers, batch=1, cores=None, progress=False):
    """Simulate each layer (timing only) on ``cores`` cores; returns a NetworkResult.

    ``progress=True`` draws a tqdm bar over the layers (the CLI asks for it on a terminal).
    """
    cores = cores or config.num_cores
    l2 = L2Cache(config)
    result = NetworkResult(batch)
    machine = Machine(config, numerics=False)     # one GM: each layer reads its producer's output
    outputs = {}
    layers = list(layers)
    bar = _progress_bar(len(layers)) if progress else None
    try:
        for shape in layers:
            if bar is not None:
                bar.set_postfix_str(shape.name, refresh=False)
            fmap = outputs.get((shape.cin, shape.h))   # the latest tensor of this channel count and size
            programs, out = conv_layer_programs(machine, shape, batch, cores, fmap=fmap)
            outputs[(shape.cout, shape.ho)] = out
            report = machine.run(programs, l2=l2)
            roof, bound, hbm = layer_roofline(config, shape, batch, cores)
            util = report.cube_ideal_cycles / (report.total_cycles * cores)
            result.layers.append(LayerResult(shape.name, shape.gemm(batch), shape.macs(batch), report.seconds,
                                             util, roof, bound, hbm))
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return result
