"""What a run reports: cycles, per-pipe busy time, stalls by cause, bytes per path, cube utilisation."""
import json
from collections import defaultdict
from dataclasses import dataclass, field

from .isa import PIPES

# the cube's waits, by the pipe that set the flag (REFERENCE §4.4)
CUBE_STALL_CAUSE = {"MTE1": "wait_operand", "MTE2": "wait_operand", "V": "wait_output",
                    "FIX": "wait_output", "MTE3": "wait_output"}


@dataclass
class Report:
    """Statistics of one kernel run (or, via ``combine``, of a sequence of kernels)."""

    machine: str
    clock_hz: float
    cores: int
    cycles: float = 0.0                 # kernel body, all cores, launch excluded
    launch_cycles: float = 0.0
    busy: dict = field(default_factory=lambda: defaultdict(float))        # pipe -> cycles, summed over cores
    stalls: dict = field(default_factory=lambda: defaultdict(float))      # (pipe, cause) -> cycles
    bytes: dict = field(default_factory=lambda: defaultdict(float))       # path -> bytes
    macs: float = 0.0
    macs_charged: float = 0.0
    cube_ideal_cycles: float = 0.0      # useful MACs at full cube rate
    cube_fractal_cycles: float = 0.0    # padded fractals at full cube rate
    l2_hit_bytes: float = 0.0
    l2_miss_bytes: float = 0.0
    hazards: list = field(default_factory=list)
    trace: list = field(default_factory=list)   # (core, pipe, name, start, end)
    spans: dict = field(default_factory=dict)   # pipe -> (first start, last end) over all cores, launch excluded
    instructions: int = 0

    @property
    def total_cycles(self):
        """Kernel cycles plus launch overhead."""
        return self.cycles + self.launch_cycles

    @property
    def seconds(self):
        """Wall time of the run, launch included."""
        return self.total_cycles / self.clock_hz

    @property
    def cube_utilisation(self):
        """Useful MACs / (peak MACs per cycle x cycles x cores), launch excluded."""
        return self.cube_ideal_cycles / (self.cycles * self.cores) if self.cycles else 0.0

    @property
    def cube_utilisation_padded(self):
        """As ``cube_utilisation`` but counting padded fractals: the gap to it is padding waste."""
        return self.cube_fractal_cycles / (self.cycles * self.cores) if self.cycles else 0.0

    def pipe_busy_fraction(self, pipe):
        """Average busy fraction of ``pipe`` over the cores that ran."""
        return self.busy.get(pipe, 0.0) / (self.cycles * self.cores) if self.cycles else 0.0

    def bandwidth(self, path):
        """Achieved bytes per second on ``path`` over the run."""
        return self.bytes.get(path, 0.0) / (self.cycles / self.clock_hz) if self.cycles else 0.0

    @property
    def l2_hit_ratio(self):
        """Fraction of GM bytes served by L2."""
        total = self.l2_hit_bytes + self.l2_miss_bytes
        return self.l2_hit_bytes / total if total else 0.0

    def flops(self):
        """Useful FLOP/s of the run (2 per MAC), launch included."""
        return 2 * self.macs / self.seconds if self.seconds else 0.0

    def combine(self, other):
        """Sequential composition: times add, counters add (used for networks of kernels)."""
        out = Report(self.machine, self.clock_hz, max(self.cores, other.cores))
        for r in (self, other):
            out.cycles += r.cycles
            out.launch_cycles += r.launch_cycles
            out.macs += r.macs
            out.macs_charged += r.macs_charged
            out.cube_ideal_cycles += r.cube_ideal_cycles
            out.cube_fractal_cycles += r.cube_fractal_cycles
            out.l2_hit_bytes += r.l2_hit_bytes
            out.l2_miss_bytes += r.l2_miss_bytes
            out.instructions += r.instructions
            out.hazards += r.hazards
            for src, dst in ((r.busy, out.busy), (r.stalls, out.stalls), (r.bytes, out.bytes)):
                for k, v in src.items():
                    dst[k] += v
        for pipe, (lo, hi) in other.spans.items():      # the second kernel's body starts after the first's
            lo, hi = lo + self.cycles, hi + self.cycles
            a, b = self.spans.get(pipe, (lo, hi))
            out.spans[pipe] = (min(a, lo), max(b, hi))
        for pipe, span in self.spans.items():
            out.spans.setdefault(pipe, span)
        return out

    def format(self):
        """A human-readable summary."""
        us = self.seconds * 1e6
        lines = [f"{self.machine}: {self.total_cycles:,.0f} cycles ({us:,.2f} us) on {self.cores} core(s), "
                 f"launch {self.launch_cycles:,.0f}",
                 f"cube utilisation {self.cube_utilisation:.3f} (padded {self.cube_utilisation_padded:.3f}), "
                 f"{self.flops() / 1e12:.2f} TFLOP/s",
                 "pipe   busy-cycles  busy%"]
        for p in PIPES:
            if self.busy.get(p):
                lines.append(f"{p:<6} {self.busy[p]:>12,.0f}  {100 * self.pipe_busy_fraction(p):5.1f}")
        if self.stalls:
            lines.append("stalls (pipe, cause): " + ", ".join(
                f"{p}/{c} {v:,.0f}" for (p, c), v in sorted(self.stalls.items()) if v))
        if self.bytes:
            lines.append("bytes: " + ", ".join(f"{k} {v / 2**20:,.2f} MiB" for k, v in sorted(self.bytes.items())))
        lines.append(f"L2 hit ratio {self.l2_hit_ratio:.2f}")
        if self.hazards:
            lines.append(f"{len(self.hazards)} hazard(s): " + self.hazards[0])
        return "\n".join(lines)

    def chrome_trace(self, path):
        """Write the per-pipe timeline (needs ``trace=True``) as Chrome/Perfetto trace JSON."""
        us = 1e6 / self.clock_hz
        events = [{"name": name, "ph": "X", "pid": core, "tid": pipe, "ts": start * us,
                   "dur": max(end - start, 0) * us} for core, pipe, name, start, end in self.trace]
        with open(path, "w") as f:
            json.dump({"traceEvents": events}, f)
