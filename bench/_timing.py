"""Interleaved, median timing of competing implementations, printed as a markdown table with ratios."""
import os
import statistics
import time

# torch's OpenMP threads spin after each call and steal the core from whichever library runs next in
# an interleaved comparison; passive waiting keeps the side-by-side timings fair
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import torch
except ImportError:  # torch is an oracle, not a dependency
    torch = None


def measure(candidates, repeat=15, min_time=0.02, settle=0.02, rounds=None):
    """Median seconds per call of each ``name -> fn``, taking turns so machine load hits all alike.

    Each turn starts ``settle`` seconds after the previous one ends: torch's OpenMP workers and OpenBLAS's keep
    spinning for milliseconds after their last op, and would otherwise slow whichever candidate runs next.
    ``rounds``: a list that receives each round's ``{name: seconds}``, for ``paired_ratios``.
    """
    loops = {}
    for name, fn in candidates.items():
        fn()  # warm up (Numba compile, caches)
        n, start = 1, time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-7)
        loops[name] = max(1, int(min_time / once))
    samples = {name: [] for name in candidates}
    for _ in range(repeat):
        for name, fn in candidates.items():
            # let the previous candidate's thread pools (OpenMP, OpenBLAS) stop spinning on the cores first
            time.sleep(settle)
            n = loops[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - start) / n)
        if rounds is not None:
            rounds.append({name: s[-1] for name, s in samples.items()})
    return {name: statistics.median(s) for name, s in samples.items()}


def paired_ratios(rounds, of="ours"):
    """{name: median over rounds of ``of``'s time / name's time}: each ratio compares two turns a second apart,
    so a shift in the machine's speed between rounds (a shared VM's steal time) cancels out."""
    names = [name for name in rounds[0] if name != of]
    return {name: statistics.median(r[of] / r[name] for r in rounds) for name in names}


def fmt_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def report(title, rows, extra=None, ratios=None):
    """Print ``rows`` = [(case, {impl: seconds})] as a table with our time over each other impl's.

    ``ratios``: one ``{impl: ours/impl}`` per row (``paired_ratios``) to print, to 3 decimals, instead of the
    medians' quotient.
    """
    print(f"\n### {title}\n")
    impls = []
    for _, times in rows:
        impls += [k for k in times if k not in impls]
    others = [i for i in impls if i != "ours"]
    head = ["case"] + impls + [f"ours/{i}" for i in others] + ([extra[0]] if extra else [])
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for i, (case, times) in enumerate(rows):
        cells = [fmt_time(times[k]) if k in times else "-" for k in impls]
        quotient = ratios[i] if ratios else {k: times["ours"] / times[k] for k in others if k in times}
        cells += [f"{quotient[k]:.{3 if ratios else 2}f}x" if k in quotient else "-" for k in others]
        if extra:
            cells.append(extra[1][i])
        print(f"| {case} | " + " | ".join(cells) + " |")
