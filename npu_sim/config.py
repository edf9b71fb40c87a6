"""Machine configuration: every parameter of REFERENCE.md §4.1, with presets.

Bandwidths inside a core are bytes per core cycle; chip-level HBM bandwidth is bytes per second,
and GM latency is in nanoseconds, so that changing ``clock_hz`` moves compute-bound and
memory-bound kernels the way real silicon would (§5.7).
"""
import dataclasses
from dataclasses import dataclass
from typing import Optional

KB = 1024
MB = 1024 * 1024


@dataclass(frozen=True)
class MachineConfig:
    """One AI-core type and the chip built from it; override any field with ``replace``."""

    name: str = "ascend910"
    num_cores: int = 32
    clock_hz: float = 1.0e9
    separated: bool = False            # 910B: cube (AIC) and vector (AIV) cores are separate

    # cube
    cube_dtypes: tuple = ("fp16", "int8")
    cube_k0_bytes: int = 32            # K-extent of one fractal, in bytes of input
    cube_cycles_fp32: int = 2          # fp32 inputs (910B only) take 2 cycles per fractal
    mmad_head_idle: int = 6
    mmad_issue_overhead: int = 2
    mmad_result_latency: int = 21

    # vector
    vector_bytes_per_repeat: int = 256
    vector_cycles_unary: int = 1
    vector_cycles_binary: int = 2
    vector_head: int = 30
    vector_max_repeat: int = 255

    # buffers (bytes) and alignment (bytes)
    l1_bytes: int = 1 * MB
    l0a_bytes: int = 64 * KB
    l0b_bytes: int = 64 * KB
    l0c_bytes: int = 256 * KB
    ub_bytes: int = 256 * KB
    bt_bytes: int = 0
    fb_bytes: int = 0
    align_l1: int = 32
    align_l0a: int = 512
    align_l0b: int = 512
    align_l0c: int = 64
    align_ub: int = 32

    # data paths (bytes per cycle); None = the path does not exist on this core
    bw_gm_l1: Optional[float] = 128
    bw_gm_ub: Optional[float] = 128
    bw_gm_l0ab: Optional[float] = None
    bw_l1_l0a: Optional[float] = 512
    bw_l1_l0b: Optional[float] = 256
    bw_l1_ub: Optional[float] = 128
    bw_l0c_ub: Optional[float] = 256
    bw_l0c_gm: Optional[float] = None
    bw_l0c_l1: Optional[float] = None
    bw_ub_gm: Optional[float] = 64
    bw_ub_l1: Optional[float] = 128

    # latencies
    dma_latency_gm_ns: float = 110.0
    dma_latency_local: int = 4
    dma_latency_l0c_gm: int = 18
    dma_latency_ub_gm: int = 90
    dma_min_burst_bytes: int = 32
    gm_line_bytes: int = 512
    charge_gm_lines: bool = True

    # shared memory system
    l2_bytes: int = 32 * MB
    l2_read_bw_per_core: float = 128
    l2_write_bw_per_core: float = 64
    hbm_bw_chip: float = 1.2e12        # bytes per second
    l2_hit_bw_ratio: float = 4.5
    l2_hit_ratio: Optional[float] = None   # None = LRU model over transfers; a number fixes it

    # sync, scalar, launch
    flag_cost: int = 1
    event_ids: int = 4
    scalar_cost: int = 1
    pipe_queue_depth: int = 32
    kernel_launch_overhead_s: float = 5e-6

    def replace(self, **changes):
        """A copy with some fields changed (unknown names are an error)."""
        return dataclasses.replace(self, **changes)

    @property
    def dma_latency_gm(self):
        """GM access latency in core cycles (fixed in ns, so it grows with the clock)."""
        return int(round(self.dma_latency_gm_ns * 1e-9 * self.clock_hz))

    @property
    def hbm_bytes_per_cycle(self):
        """Chip HBM bandwidth expressed in bytes per core cycle."""
        return self.hbm_bw_chip / self.clock_hz

    def cube_macs_per_cycle(self, dtype="fp16"):
        """Multiply-accumulates per cycle of one cube at full rate for this input type."""
        from .dtypes import itemsize
        k0 = self.cube_k0_bytes // itemsize(dtype)
        return 16 * k0 * 16 // (self.cube_cycles_fp32 if dtype == "fp32" else 1)

    def peak_flops(self, dtype="fp16", cores=None):
        """Peak cube FLOP/s of the chip (2 FLOP per MAC)."""
        return 2 * self.cube_macs_per_cycle(dtype) * self.clock_hz * (cores or self.num_cores)


def ascend910(**overrides):
    """Ascend 910 (DaVinci Max v100, 32 coupled cores at 1.0 GHz) — the default machine."""
    return MachineConfig(**overrides)


def ascend910b(**overrides):
    """Ascend 910B2: 24 cube cores at 1.8 GHz, separated AIC/AIV, FixPipe, 192 MB L2."""
    base = dict(
        name="ascend910b", num_cores=24, clock_hz=1.8e9, separated=True,
        cube_dtypes=("fp16", "bf16", "int8", "fp32"),
        l1_bytes=512 * KB, l0c_bytes=128 * KB, ub_bytes=192 * KB, bt_bytes=1 * KB, fb_bytes=7 * KB,
        bw_gm_l1=160, bw_gm_ub=48, bw_gm_l0ab=128, bw_l1_l0a=256, bw_l1_l0b=128,
        bw_l1_ub=None, bw_l0c_ub=None, bw_l0c_gm=128, bw_l0c_l1=128, bw_ub_gm=64, bw_ub_l1=None,
        # the msKPP fit of L1->L0 transfers gives ~2 cycles of latency on 910B (§2.2)
        dma_latency_local=2,
        l2_bytes=192 * MB, l2_read_bw_per_core=110, l2_write_bw_per_core=86, hbm_bw_chip=1.6e12,
        event_ids=8,
    )
    base.update(overrides)
    return MachineConfig(**base)


def edge(**overrides):
    """A small edge part (Ascend-310-class, ESTIMATE): 2 v100 cores, small L2, LPDDR bandwidth."""
    base = dict(name="edge", num_cores=2, clock_hz=1.0e9, l2_bytes=8 * MB,
                hbm_bw_chip=64e9, l2_read_bw_per_core=128, l2_write_bw_per_core=64)
    base.update(overrides)
    return MachineConfig(**base)


PRESETS = {"ascend910": ascend910, "ascend910b": ascend910b, "edge": edge}


def preset(name, **overrides):
    """A preset configuration by name, with overrides."""
    try:
        return PRESETS[name](**overrides)
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}") from None
