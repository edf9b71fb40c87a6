"""``framework.npu``: the simulated Ascend NPU device (``tensor.to("npu")``, ``model.to("npu")``).

Ops on ``npu`` tensors run as programs on ``npu_sim``'s cycle-approximate AI cores (``kernels/npu``):
GEMMs and convolutions (img2col in MTE1) on the cube, elementwise ops, reductions and softmax on the vector
unit (docs/npu_sim.md lists what is simulated and what is analytic). ``profile()`` collects each kernel
call's cycles, cube utilisation, GM bytes, per-pipe busy cycles and launch/pipe activity segments::

    with framework.npu.profile() as prof:
        y = model(x.npu())
    print(prof.table())
    print(prof.chip_estimate().seconds)
    prof.timeline("timeline.png")   # needs matplotlib
"""
from contextlib import contextmanager
from typing import NamedTuple

__all__ = ["is_available", "device_count", "current_device", "synchronize", "set_host_fallback", "profile",
           "Profile", "ChipEstimate"]

# the pipes of an AI core, in the order the timeline draws them (data flows top to bottom)
_PIPES = ("MTE2", "MTE1", "M", "V", "MTE3", "FIX")
# how each record's cost was obtained, as the profile tables name it
_UNITS = {"sim": "simulated", "analytic": "analytic", "sim+analytic": "sim+analytic", "host": "host fallback"}


def is_available():
    """Whether an NPU can be used: always, it is simulated."""
    return True


def device_count():
    """Number of NPU devices (one simulated chip)."""
    return 1


def current_device():
    """Index of the current NPU."""
    return 0


def synchronize(device=None):
    """Wait for the NPU: a no-op, every simulated kernel has finished when its call returns."""


def set_host_fallback(enabled=True):
    """Run ops the NPU lacks on the host CPU instead of raising (each shows in the profile as a fallback)."""
    import kernels.npu
    kernels.npu.set_host_fallback(enabled)


class Profile:
    """Per-call records of NPU kernels (``records``) and their per-op summary (``table()``)."""

    def __init__(self):
        self.records = []

    def summary(self):
        """Rows (op, unit, calls, cycles, cube utilisation, bytes) per op and unit, most cycles first."""
        rows = {}
        for r in self.records:
            calls, cycles, ideal, nbytes = rows.get((r.op, r.model), (0, 0.0, 0.0, 0.0))
            rows[(r.op, r.model)] = (calls + 1, cycles + r.cycles, ideal + r.cube_utilisation * r.cycles,
                                     nbytes + r.bytes)
        out = [(op, model, calls, cycles, ideal / cycles if cycles else 0.0, nbytes)
               for (op, model), (calls, cycles, ideal, nbytes) in rows.items()]
        return sorted(out, key=lambda row: (-row[3], row[0]))

    def table(self):
        """The summary as a text table sorted by cycles; host fallbacks are marked ``host fallback``."""
        lines = [f"{'op':<16} {'runs on':<14} {'calls':>6} {'cycles':>14} {'cube util':>9} {'bytes':>14}"]
        for op, model, calls, cycles, util, nbytes in self.summary():
            lines.append(f"{op:<16} {_UNITS[model]:<14} {calls:>6} {cycles:>14,.0f} {util:>9.3f} {nbytes:>14,.0f}")
        total = sum(r.cycles for r in self.records)
        lines.append(f"total: {len(self.records)} calls, {total:,.0f} cycles")
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def _repr_html_(self):
        """The summary as an HTML table, which Jupyter shows for a ``Profile`` at the end of a cell."""
        from html import escape
        head = "".join(f"<th>{h}</th>" for h in ("op", "runs on", "calls", "cycles", "cube util", "bytes"))
        rows = "".join(f"<tr><td>{escape(op)}</td><td>{_UNITS[model]}</td><td>{calls}</td><td>{cycles:,.0f}</td>"
                       f"<td>{util:.3f}</td><td>{nbytes:,.0f}</td></tr>"
                       for op, model, calls, cycles, util, nbytes in self.summary())
        total = sum(r.cycles for r in self.records)
        return (f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
                f"<p>total: {len(self.records)} calls, {total:,.0f} cycles</p>")

    def chip_estimate(self):
        """Estimated chip time: each op's cycles (launches included) at the simulated chip's clock, summed.

        Kernel calls run back to back on the chip; host fallbacks cost no chip cycles and are only counted.
        """
        from kernels.npu._common import CONFIG
        per_op = {}
        for r in self.records:
            per_op[r.op] = per_op.get(r.op, 0.0) + r.cycles / CONFIG.clock_hz
        fallbacks = sum(r.model == "host" for r in self.records)
        return ChipEstimate(sum(per_op.values()), per_op, CONFIG.clock_hz, fallbacks)

    def timeline(self, path):
        """Draw the calls on one time axis as a PNG at ``path`` (needs matplotlib).

        Calls run back to back, each starting where the previous one ended. A call's launch/setup cycles are a
        grey bar on the "launch" lane; on each pipe's lane a bar in the op's colour spans from the pipe's first
        instruction to its last one (any core) of that call; a host fallback is a red mark (no chip time).
        """
        from matplotlib.figure import Figure
        lanes = ("launch",) + _PIPES
        fig = Figure(figsize=(11, 3.8))
        ax = fig.add_subplot()
        ops = sorted({r.op for r in self.records if r.model != "host"})
        colours = {op: f"C{i % 10}" for i, op in enumerate(ops)}
        start, hosts = 0.0, []
        for r in self.records:
            if r.model == "host":
                hosts.append(start)
            for lane, lo, hi in r.segments:
                if lane in lanes:
                    ax.broken_barh([(start + lo, hi - lo)], (lanes.index(lane) - 0.4, 0.8),
                                   color="0.6" if lane == "launch" else colours[r.op])
            start += r.cycles
        if hosts:
            ax.plot(hosts, [0] * len(hosts), "x", color="red", label="host fallback")
        ax.set_yticks(range(len(lanes)), lanes)
        ax.invert_yaxis()
        ax.set_xlim(0, max(start, 1.0))
        ax.set_xlabel("cycles (one axis for all calls, back to back)")
        ax.set_title("NPU timeline: launch and pipe activity per kernel call")
        handles = [ax.bar(0, 0, color=colours[op], label=op) for op in ops] + ([ax.lines[-1]] if hosts else [])
        ax.legend(handles=handles, loc="upper right", fontsize="small", ncol=min(len(handles), 5) or 1)
        fig.tight_layout()
        fig.savefig(path, format="png")
        return path


class ChipEstimate(NamedTuple):
    """Estimated chip time in seconds, its split per op, the clock it assumed and the host fallbacks left out."""

    seconds: float
    per_op: dict
    clock_hz: float
    host_fallbacks: int


@contextmanager
def profile():
    """Collect every NPU kernel call made inside the ``with`` block into a ``Profile``."""
    from kernels.npu import profiler
    prof = Profile()
    profiler.start(prof.records)
    try:
        yield prof
    finally:
        profiler.stop(prof.records)
