"""Training-step time of four workloads, framework vs torch side by side (same model code for both).

MLP 784-512-512-10 (batch 128, Adam), LeNet-5 (batch 64, SGD momentum), a 2-layer GPT block stack
(d=128, 4 heads, seq 64, batch 16, AdamW) and an LSTM language model (hidden 128, seq 35, batch 20, SGD).
Peak memory is measured per library in a child process (``--peak NAME LIB``), so one does not hide
the other's allocations.
"""
import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_PEAK_MODE = len(sys.argv) == 4 and sys.argv[1] == "--peak"
if _PEAK_MODE and sys.argv[3] == "torch":
    import torch  # noqa: E402
else:
    import framework  # noqa: E402
if not _PEAK_MODE:
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
            x = self.tok(idx) + self.pos(lib.arange(idx.shape[1]))
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


def make_step(lib, build):
    lib.manual_seed(0)
    model, opt, x, y = build(lib)
    loss_fn = lib.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def peak_rss_mb(name, lib_name):
    """Peak resident memory (MB, import included) of a fresh process running 20 steps of ``name``."""
    out = subprocess.run([sys.executable, __file__, "--peak", name, lib_name], capture_output=True, text=True)
    return float(out.stdout.strip() or "nan")


if __name__ == "__main__":
    if _PEAK_MODE:
        lib = torch if sys.argv[3] == "torch" else framework
        step = make_step(lib, WORKLOADS[sys.argv[2]])
        for _ in range(20):
            step()
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        sys.exit(0)
    rows, memory = [], []
    for name, build in WORKLOADS.items():
        cands = {"ours": make_step(framework, build)}
        if torch is not None:
            cands["torch"] = make_step(torch, build)
        rows.append((name, measure(cands, repeat=9, min_time=0.2)))
        peaks = {lib: peak_rss_mb(name, lib) for lib in cands}
        memory.append(" / ".join(f"{peaks[k]:.0f}" for k in cands) + " MB")
    report("Training steps (forward + backward + optimizer step)", rows, ("peak RSS ours / torch", memory))
