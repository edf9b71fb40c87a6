"""Graph mode: a compiled training step against our eager step, torch eager and torch.compile, side by side.

Workloads (same model code for every library, from ``bench_training``): MLP 784-512-512-10 with Adam at
batch 32 and 128, and the 2-layer GPT (d128, 4 heads, seq 64, batch 16, AdamW). ``ours`` is
``framework.compile(step)``; the ratio columns are its time over each other's, as the median of each round's
own ratio (the candidates take turns within a round, so a shift in a shared VM's speed between rounds cancels;
the time columns are each candidate's median). Compile time is the first
calls' (trace, passes, Numba compilation of the fused kernels); ``--cold`` also measures it in fresh
processes with an empty and then a warm fused-kernel cache. ``--profile`` prints where a compiled step's
time goes, per kernel (the top 20; ``ROWS=N`` in the environment shows N).

Run on a quiet machine (``uptime`` load below 1.5):
``python bench/bench_jit.py [--cold] [--profile] [--no-torch-compile]``. On a small shared box, OpenBLAS's and
torch's spinning thread pools fight each other and the other processes (steps become 10x slower, eager and
compiled alike); ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1`` gives stable single-thread
figures for every library.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import framework  # noqa: E402
from bench._timing import fmt_time, measure, paired_ratios, report, torch  # noqa: E402
from bench.bench_training import gpt, mlp  # noqa: E402


def mlp_batch(batch):
    """The MLP workload at ``batch`` rows."""
    def build(lib):
        model, opt, _, _ = mlp(lib)
        return model, opt, lib.randn(batch, 784), lib.randint(0, 10, (batch,))
    return build


WORKLOADS = {"MLP 784-512-512-10, batch 32, Adam": mlp_batch(32),
             "MLP 784-512-512-10, batch 128, Adam": mlp_batch(128),
             "GPT 2 blocks d128 h4 seq64 batch16, AdamW": gpt}


def make_step(lib, build, compiler=None):
    """A training step closure (zero_grad, forward, loss, backward, step), compiled by ``compiler`` if given."""
    lib.manual_seed(0)
    model, opt, x, y = build(lib)
    loss_fn = lib.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return compiler(step) if compiler else step


def first_calls(step, n=3):
    """Seconds of the first ``n`` calls: tracing, re-tracing once the optimizer state exists, passes, compilation."""
    start = time.perf_counter()
    for _ in range(n):
        step()
    return time.perf_counter() - start


def candidates(build, torch_compile=True):
    """name -> step, and name -> seconds of the first calls for the compiled ones."""
    steps, compile_s = {}, {}
    steps["ours"] = make_step(framework, build, framework.compile)
    compile_s["ours"] = first_calls(steps["ours"])
    steps["ours eager"] = make_step(framework, build)
    if torch is not None:
        steps["torch"] = make_step(torch, build)
        try:
            if not torch_compile:
                raise RuntimeError("skipped (--no-torch-compile)")
            compiled = make_step(torch, build, torch.compile)
            compile_s["torch.compile"] = first_calls(compiled)
            steps["torch.compile"] = compiled
        except Exception as error:  # no C++ toolchain, unsupported op: report and go on
            print(f"torch.compile unavailable for this workload: {type(error).__name__}: {str(error)[:120]}")
    return steps, compile_s


def cold_and_warm(name):
    """First-call seconds of ``name`` in a fresh process with an empty fused-kernel cache, then a warm one."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, FRAMEWORK_FUSED_CACHE=cache)
        times = []
        for _ in range(2):
            out = subprocess.run([sys.executable, __file__, "--first-call", name], env=env, capture_output=True,
                                 text=True)
            times.append(float(out.stdout.split()[-1]) if out.returncode == 0 else float("nan"))
        return times


def profile(name):
    """Time per kernel of one compiled step of ``name`` (the executor's calls wrapped with a timer)."""
    from framework.jit import executor
    step = make_step(framework, WORKLOADS[name], framework.compile)
    first_calls(step)
    entry = step.entries[-1]
    spent, counts = {}, {}

    def timed(call, label):
        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - start
                counts[label] = counts.get(label, 0) + 1
        return run

    ex = entry.executor
    assert isinstance(ex, executor.Executor)
    nodes = entry.graph.nodes
    ex._steps = [(timed(call, _label(node)), *rest) for (call, *rest), node in zip(ex._steps, nodes)]
    # nodes the memory plan runs into a donor's buffer go through their out= call instead
    ex._reuse = {i: (donor, timed(write, _label(nodes[i]))) for i, (donor, write) in ex._reuse.items()}
    for _ in range(3):
        step()
    spent.clear(), counts.clear()
    runs = 10
    start = time.perf_counter()
    for _ in range(runs):
        step()
    total = (time.perf_counter() - start) / runs
    in_kernels = sum(spent.values()) / runs
    print(f"\n### Where a compiled step goes: {name}\n")
    print(f"step {fmt_time(total)}, in kernels {fmt_time(in_kernels)}, executor and binding overhead "
          f"{fmt_time(total - in_kernels)}, {len(entry.graph.nodes)} nodes\n")
    print("| kernel | calls/step | time/step | share |\n| --- | --- | --- | --- |")
    for label, seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:int(os.environ.get("ROWS", 20))]:
        print(f"| {label} | {counts[label] // runs} | {fmt_time(seconds / runs)} | {seconds / runs / total:.0%} |")


def _label(node):
    if node.kernel not in ("fused_elementwise", "fused_rows"):
        return node.kernel
    from framework.jit.passes.fuse import fused_ops
    return f"fused {'+'.join(fused_ops(node))} -> {', '.join(v.type_str for v in node.outputs)}"


def main(argv):
    if argv[:1] == ["--first-call"]:
        print(first_calls(make_step(framework, WORKLOADS[argv[1]], framework.compile)))
        return
    rows, ratios, compile_rows = [], [], []
    for name, build in WORKLOADS.items():
        steps, compile_s = candidates(build, "--no-torch-compile" not in argv)
        rounds = []
        rows.append((name, measure(steps, repeat=15, min_time=0.2, rounds=rounds)))
        ratios.append(paired_ratios(rounds))
        if "--cold" in argv:
            compile_s["ours, new process, empty cache"], compile_s["ours, new process, warm cache"] = \
                cold_and_warm(name)
        compile_rows.append((name, compile_s))
    report("Training step: framework.compile (ours) vs our eager, torch eager and torch.compile (times: medians of "
           "15 rounds; ratios: medians of the rounds' own ratios)", rows, ratios=ratios)
    from kernels.cpu import openblas_threads
    jobs = openblas_threads.threads()
    print(f"\nLarge loops of ours shared among OpenBLAS's threads: {f'{jobs} jobs' if jobs > 1 else 'no (one thread)'}")
    print("\n### Compile time: the first 3 calls (trace, re-trace once optimizer state exists, passes, kernel "
          "compilation, 3 steps)\n")
    columns = list(dict.fromkeys(k for _, times in compile_rows for k in times))
    print("| workload | " + " | ".join(columns) + " |\n|" + " --- |" * (len(columns) + 1))
    for name, times in compile_rows:
        print(f"| {name} | " + " | ".join(fmt_time(times[k]) if k in times else "-" for k in columns) + " |")
    if "--profile" in argv:
        for name in WORKLOADS:
            profile(name)


if __name__ == "__main__":
    main(sys.argv[1:])
