"""Training-step time of four workloads, framework vs torch side by side (same model code for both).

MLP 784-512-512-10 (batch 128, Adam), LeNet-5 (batch 64, SGD momentum), a 2-layer GPT block stack
(d=128, 4 heads, seq 64, batch 16, AdamW) and an LSTM language model (hidden 128, seq 35, batch 20, SGD).
Each library is also run alone in a child process (``--alone NAME LIB DEVICE``), with its default threading
and nothing else loaded, for step time and peak memory (interleaving in one process perturbs torch's
OpenMP pool).

``--device cuda`` runs both libraries on the GPU (each step ends with ``cuda.synchronize()``, peak memory is
the device's ``max_memory_allocated``); a library without a usable GPU is left out, with a message.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_ALONE = len(sys.argv) == 5 and sys.argv[1] == "--alone"
if _ALONE and sys.argv[3] == "torch":
    import torch  # noqa: E402
else:
    import framework  # noqa: E402
if not _ALONE:
    from bench._timing import measure, report, torch  # noqa: E402


def mlp(lib):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    return model, lib.optim.Adam(model.parameters(), lr=1e-3), lib.randn(128, 784), lib.randint(0, 10, (128,))


def lenet(lib):
    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                          nn.ReLU(), nn.Linear(84, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return model, opt, lib.randn(64, 1, 28, 28), lib.randint(0, 10, (64,))


def gpt(lib, vocab=512, d=128, heads=4, seq=64, batch=16):
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q, k, v = (z.view(b, t, heads, d // heads).transpose(1, 2) for z in (q, k, v))
            y = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(seq, d)
            self.blocks = nn.Sequential(Block(), Block())
            self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(lib.arange(idx.shape[1], device=idx.device))
            return self.head(self.ln(self.blocks(x))).flatten(0, 1)

    model = GPT()
    opt = lib.optim.AdamW(model.parameters(), lr=3e-4)
    idx = lib.randint(0, vocab, (batch, seq))
    return model, opt, idx, lib.randint(0, vocab, (batch * seq,))


def lstm(lib, vocab=1000, hidden=128, seq=35, batch=20):
    nn = lib.nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.rnn = nn.Embedding(vocab, hidden), nn.LSTM(hidden, hidden, num_layers=2)
            self.out = nn.Linear(hidden, vocab)

        def forward(self, idx):
            y, _ = self.rnn(self.emb(idx))
            return self.out(y).flatten(0, 1)

    model = LM()
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    return model, opt, lib.randint(0, vocab, (seq, batch)), lib.randint(0, vocab, (seq * batch,))


WORKLOADS = {"MLP 784-512-512-10, batch 128, Adam": mlp, "LeNet-5, batch 64, SGD momentum": lenet,
             "GPT 2 blocks d128 h4 seq64 batch16, AdamW": gpt, "LSTM LM h128 seq35 batch20, SGD": lstm}


def make_step(lib, build, device="cpu"):
    lib.manual_seed(0)
    model, opt, x, y = build(lib)
    model, x, y = model.to(device), x.to(device), y.to(device)  # in place: the optimizer keeps its parameters
    loss_fn = lib.nn.CrossEntropyLoss()
    sync = lib.cuda.synchronize if device == "cuda" else (lambda: None)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        sync()  # a GPU step is timed to its end, not to its last launch
        return loss
    return step


def libraries(device):
    """{"ours": framework, "torch": torch} restricted to those that can run on ``device`` (with a message)."""
    libs = {"ours": framework}
    if torch is not None:
        libs["torch"] = torch
    if device == "cuda":
        for name, lib in list(libs.items()):
            if not lib.cuda.is_available():
                print(f"note: {name} cannot use CUDA here (is_available() is False); it is left out")
                del libs[name]
        if "ours" not in libs:
            sys.exit("--device cuda needs a GPU and CuPy for the framework (pip install 'framework[cuda]')")
    return libs


def standalone(name, lib_name, device):
    """(median step seconds, peak MB: RSS incl. import on cpu, device memory on cuda) of ``name`` alone."""
    out = subprocess.run([sys.executable, __file__, "--alone", name, lib_name, device], capture_output=True,
                         text=True)
    try:
        seconds, peak = out.stdout.split()
        return float(seconds), float(peak)
    except ValueError:
        return float("nan"), float("nan")


if __name__ == "__main__":
    if _ALONE:
        lib = torch if sys.argv[3] == "torch" else framework
        device = sys.argv[4]
        step = make_step(lib, WORKLOADS[sys.argv[2]], device)
        for _ in range(3):
            step()
        times = []
        for _ in range(15):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        # VmHWM, not ru_maxrss: on Linux the latter carries the parent's high-water mark across fork+exec
        if device == "cuda":
            peak = lib.cuda.max_memory_allocated() / 2 ** 20
        else:
            with open("/proc/self/status") as f:
                peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
        print(statistics.median(times), peak)
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where both libraries run")
    device = parser.parse_args().device
    libs = libraries(device)
    rows, alone_rows, memory = [], [], []
    for name, build in WORKLOADS.items():
        cands = {key: make_step(lib, build, device) for key, lib in libs.items()}
        rows.append((name, measure(cands, repeat=9, min_time=0.2)))
        results = {key: standalone(name, key, device) for key in cands}
        alone_rows.append((name, {key: r[0] for key, r in results.items()}))
        memory.append(" / ".join(f"{results[k][1]:.0f}" for k in cands) + " MB")
    where = f" on {framework.cuda.get_device_name()}" if device == "cuda" else ""
    report(f"Training steps{where}, interleaved in one process", rows)
    report(f"Training steps{where}, each library alone in its own process (default threading)", alone_rows,
           (f"peak {'device memory' if device == 'cuda' else 'RSS'} " + " / ".join(libs), memory))
