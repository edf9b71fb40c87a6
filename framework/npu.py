"""``framework.npu``: the simulated Ascend NPU device (``tensor.to("npu")``, ``model.to("npu")``).

Ops on ``npu`` tensors run as programs on ``npu_sim``'s cycle-approximate AI cores (``kernels/npu``):
GEMMs on the cube, elementwise ops on the vector unit. ``profile()`` collects each kernel call's
cycles, cube utilisation and GM bytes::

    with framework.npu.profile() as prof:
        y = model(x.npu())
    print(prof.table())
"""
from contextlib import contextmanager

__all__ = ["is_available", "device_count", "current_device", "synchronize", "set_host_fallback", "profile",
           "Profile"]


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
        unit = {"sim": "simulated", "analytic": "analytic", "sim+analytic": "sim+analytic", "host": "host fallback"}
        lines = [f"{'op':<16} {'runs on':<14} {'calls':>6} {'cycles':>14} {'cube util':>9} {'bytes':>14}"]
        for op, model, calls, cycles, util, nbytes in self.summary():
            lines.append(f"{op:<16} {unit[model]:<14} {calls:>6} {cycles:>14,.0f} {util:>9.3f} {nbytes:>14,.0f}")
        total = sum(r.cycles for r in self.records)
        lines.append(f"total: {len(self.records)} calls, {total:,.0f} cycles")
        return "\n".join(lines)

    def __str__(self):
        return self.table()


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
