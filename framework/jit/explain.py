"""``framework.jit.explain(fn, *args)``: what graph mode makes of ``fn`` on these arguments, and whether it pays.

It captures ``fn`` once (as ``framework.compile`` does), runs the pass pipeline, then times ``fn`` eagerly and
compiled over a few calls. The report lists graph breaks with the user's file and line, op counts before and
after each pass, fusion groups, the memory plan, and the gain a simple cost model predicts next to the gain
measured. ``fn`` really runs ``2 + 2 * runs`` times (a training step trains that many steps).

The cost model, from figures measured once per process on this machine: eager pays a dispatch overhead per op
(argument checks, wrapping, autograd bookkeeping), a replay pays a much smaller one per node plus a fixed
cost per call (guard checks, binding inputs, wrapping outputs: counted as two eager ops plus one slot move per
input and output), and every intermediate fusion removes saves one write and one read of its bytes at the
measured memory bandwidth. Compute time is the same on both sides and cancels. Graphs whose predicted gain
is under ``MIN_GAIN_S`` stay eager: :func:`worth_compiling` is the decision ``framework.compile`` can share.

    >>> print(framework.jit.explain(lambda x: (x * 2).relu().sum(), framework.randn(100)))  # doctest: +SKIP
"""
import time
import warnings

import numpy as np

__all__ = ["explain", "Explanation", "worth_compiling", "predicted_gain", "machine_costs", "MIN_GAIN_S"]

MIN_GAIN_S = 10e-6
_COSTS = {}


def machine_costs():
    """{"eager_op_s", "replay_op_s", "bandwidth_Bps"}: per-op overheads and memory bandwidth, measured once."""
    if not _COSTS:
        _COSTS.update(eager_op_s=_measure_eager_op(), replay_op_s=_measure_replay_op(),
                      bandwidth_Bps=_measure_bandwidth())
    return dict(_COSTS)


def _best_per_call(fn, calls, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / calls


def _measure_eager_op():
    import framework
    a, b = framework.ones(1), framework.ones(1)
    return _best_per_call(lambda: framework.add(a, b), 200)


def _measure_replay_op():
    from .. import _dtype
    from .._device import device
    from .executor import Executor
    from .ir import Graph
    graph = Graph("probe")
    cpu = device("cpu")
    value = graph.add_input((1,), _dtype.float32, cpu)
    for _ in range(32):
        value = graph.add_node("add", [value, value], {}, [((1,), _dtype.float32, cpu)]).outputs[0]
    graph.outputs = [value]
    executor, arrays = Executor(graph), [np.ones(1, dtype=np.float32)]
    return _best_per_call(lambda: executor.run(arrays), 20) / 32


def _measure_bandwidth():
    src = np.ones(1 << 21, dtype=np.float32)  # 8 MiB: past the caches that would flatter the figure
    dst = np.empty_like(src)
    seconds = _best_per_call(lambda: np.copyto(dst, src), 3)
    return 2 * src.nbytes / seconds


def predicted_gain(graph, report, costs=None):
    """Seconds per call the cost model expects compiling ``graph`` (optimised as ``report`` says) to save."""
    costs = costs or machine_costs()
    eager = report.nodes_before * costs["eager_op_s"]
    call = 2 * costs["eager_op_s"] + (len(graph.inputs) + len(graph.outputs)) * costs["replay_op_s"]
    replay = report.nodes_after * costs["replay_op_s"] + call
    traffic = 2 * max(report.bytes_saved, 0) / costs["bandwidth_Bps"]
    return eager - replay + traffic


def worth_compiling(graph, report, costs=None):
    """(True, why) when the predicted gain of running ``graph`` compiled reaches ``MIN_GAIN_S``; else (False, why)."""
    gain = predicted_gain(graph, report, costs)
    if gain < MIN_GAIN_S:
        return False, (f"stays eager: graph too small to win (predicted gain {_us(gain)} per call, "
                       f"threshold {_us(MIN_GAIN_S)})")
    return True, f"compiled: predicted gain {_us(gain)} per call"


def _us(seconds):
    return f"{seconds * 1e6:.1f} us" if abs(seconds) < 1e-3 else f"{seconds * 1e3:.2f} ms"


class Explanation:
    """The report ``explain`` returns; print it, or read its fields."""

    def __init__(self, name, breaks, graph, report, eager_s, compiled_s, predicted_gain_s, worth, reason):
        self.name, self.breaks, self.graph, self.report = name, breaks, graph, report
        self.eager_s, self.compiled_s = eager_s, compiled_s
        self.predicted_gain_s, self.worth, self.reason = predicted_gain_s, worth, reason

    @property
    def measured_gain_s(self):
        """Eager minus compiled seconds per call (None when nothing was compiled)."""
        return None if self.compiled_s is None else self.eager_s - self.compiled_s

    @property
    def passes(self):
        """The pipeline's per-pass records (empty when nothing was compiled)."""
        return self.report.passes if self.report else []

    @property
    def fusion_groups(self):
        """Kernel names and output types of each fused node."""
        return self.report.fusion_groups if self.report else []

    @property
    def memory_plan(self):
        """The graph's memory plan (None when nothing was compiled)."""
        return self.report.memory_plan if self.report else None

    def __str__(self):
        lines = [f"explain({self.name})"]
        if self.breaks:
            lines.append(f"  graph breaks ({len(self.breaks)}):")
            lines.extend(f"    {where}: {what}" for what, where in self.breaks)
        else:
            lines.append("  graph breaks: none")
        if self.report is not None:
            lines.extend("  " + line for line in str(self.report).splitlines())
            lines.append(f"  predicted gain {_us(self.predicted_gain_s)} per call; measured: eager "
                         f"{_us(self.eager_s)}, compiled {_us(self.compiled_s)}, gain {_us(self.measured_gain_s)}")
        else:
            lines.append(f"  eager {_us(self.eager_s)} per call")
        lines.append(f"  decision: {self.reason}")
        return "\n".join(lines)

    __repr__ = __str__


def explain(fn, *args, runs=5, **kwargs):
    """Capture ``fn(*args, **kwargs)``, optimise it, time it eagerly and compiled; return an :class:`Explanation`."""
    from ..nn.modules.module import Module
    from .compile import CompiledFunction, GraphBreakWarning
    target = fn.__call__ if isinstance(fn, Module) else fn
    name = type(fn).__name__ if isinstance(fn, Module) else getattr(fn, "__name__", "fn")
    compiled = CompiledFunction(target, name=name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GraphBreakWarning)
        compiled(*args, **kwargs)
    entry = compiled.entries[-1]
    breaks = [(what, f"{where[0]}:{where[1]}") for what, where in entry.breaks]
    eager_s = _time(lambda: target(*args, **kwargs), runs)
    if entry.eager:
        return Explanation(name, breaks, None, None, eager_s, None, None, False,
                           f"stays eager: graph break at {breaks[0][1]}: {breaks[0][0]}")
    compiled(*args, **kwargs)  # the first replay compiles generated kernels: not part of the steady state
    compiled_s = _time(lambda: compiled(*args, **kwargs), runs)
    gain = predicted_gain(entry.graph, entry.report)
    worth, reason = worth_compiling(entry.graph, entry.report)
    return Explanation(name, breaks, entry.graph, entry.report, eager_s, compiled_s, gain, worth, reason)


def _time(call, runs):
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best
