"""The memory system all cores share: L2 residency and fluid-shared L2/HBM bandwidth (REFERENCE §4.3.6).

Each GM transfer is split into L2-hit and L2-miss bytes; both parts stream concurrently. The rates
are re-divided (max-min fair, each transfer capped by its core's port) every time a transfer starts
or ends. Aggregate L2 bandwidth is ``num_cores x l2_*_bw_per_core``: one core alone is limited by its
port, as the single-core measurements of §5.1 require, and many cores share the L2 and the HBM.
"""
from collections import OrderedDict

EPS = 1e-6


class L2Cache:
    """LRU residency of GM data in L2, or a fixed hit ratio (``config.l2_hit_ratio``).

    Reads are tracked per transfer block (re-reading exactly the same block hits), writes per whole
    tensor: a tensor written by one kernel (an activation) stays resident, and a later kernel's reads
    of it hit, until the bytes written to it and to other entries push it out. Write-back of dirty
    data to HBM is not charged.
    """

    def __init__(self, config):
        self.capacity = config.l2_bytes
        self.fixed = config.l2_hit_ratio
        self.entries = OrderedDict()
        self.used = 0
        self.hit_bytes = 0
        self.miss_bytes = 0

    def _insert(self, key, nbytes):
        self.entries[key] = self.entries.pop(key, 0) + nbytes
        self.used += nbytes
        while self.used > self.capacity and self.entries:
            _, size = self.entries.popitem(last=False)
            self.used -= size

    def access(self, key, nbytes, write):
        """Bytes of this transfer that hit in L2 (``key[0]`` identifies the tensor)."""
        if self.fixed is not None:
            hit = nbytes * self.fixed
        elif write:
            hit = nbytes
            self._insert(("tensor", key[0]), nbytes)
        elif ("tensor", key[0]) in self.entries:
            self.entries.move_to_end(("tensor", key[0]))
            hit = nbytes
        elif key in self.entries:
            self.entries.move_to_end(key)
            hit = nbytes
        else:
            hit = 0
            self._insert(key, nbytes)
        self.hit_bytes += hit
        self.miss_bytes += nbytes - hit
        return hit


class Flow:
    """A GM transfer in flight: remaining hit/miss bytes, its port cap and current rates."""

    __slots__ = ("hit", "miss", "write", "port", "rh", "rm", "done", "start")

    def __init__(self, hit, miss, write, port, done, start):
        self.hit, self.miss, self.write, self.port = hit, miss, write, port
        self.rh = self.rm = 0.0
        self.done, self.start = done, start


def _water_fill(demands, capacity):
    """Max-min fair shares of ``capacity`` for flows whose caps are ``demands``."""
    order = sorted(range(len(demands)), key=demands.__getitem__)
    shares = [0.0] * len(demands)
    left, n = capacity, len(demands)
    for i in order:
        share = left / n
        give = min(demands[i], share)
        shares[i] = give
        left -= give
        n -= 1
    return shares


class SharedMemory:
    """Processor-sharing model of the chip's L2 and HBM bandwidth (bytes per core cycle)."""

    def __init__(self, config):
        self.l2_read = config.num_cores * config.l2_read_bw_per_core
        self.l2_write = config.num_cores * config.l2_write_bw_per_core
        self.hbm = config.hbm_bytes_per_cycle
        self.flows = []
        self.t = 0.0
        self.version = 0

    def advance(self, now):
        """Move every flow forward to time ``now`` at its current rates."""
        dt = now - self.t
        if dt > 0:
            for f in self.flows:
                f.hit = max(0.0, f.hit - f.rh * dt)
                f.miss = max(0.0, f.miss - f.rm * dt)
        self.t = now

    def add(self, flow, now):
        """Start a flow at ``now`` (call ``advance`` first)."""
        self.advance(now)
        self.flows.append(flow)
        self._rates()

    def pop_finished(self, now):
        """Advance to ``now``; remove and return flows with nothing left, re-dividing bandwidth."""
        self.advance(now)
        done = [f for f in self.flows if f.hit <= EPS and f.miss <= EPS]
        if done:
            self.flows = [f for f in self.flows if f.hit > EPS or f.miss > EPS]
        self._rates()
        return done

    def _rates(self):
        flows = self.flows
        for write, cap in ((False, self.l2_read), (True, self.l2_write)):
            hits = [f for f in flows if f.hit > EPS and f.write == write]
            for f, r in zip(hits, _water_fill([f.port for f in hits], cap)):
                f.rh = r
        for f in flows:
            if f.hit <= EPS:
                f.rh = 0.0
        misses = [f for f in flows if f.miss > EPS]
        for f, r in zip(misses, _water_fill([f.port - f.rh for f in misses], self.hbm)):
            f.rm = r
        for f in flows:
            if f.miss <= EPS:
                f.rm = 0.0
        self.version += 1

    def next_event(self):
        """Time (absolute) at which the next hit or miss part finishes, or None."""
        best = None
        for f in self.flows:
            for left, rate in ((f.hit, f.rh), (f.miss, f.rm)):
                if left > EPS and rate > 0:
                    t = self.t + left / rate
                    if best is None or t < best:
                        best = t
        return best
