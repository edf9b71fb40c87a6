"""Zoo models, ours vs torch side by side: inference throughput, training-step time, GPT-2 generation speed.

ResNet-18 (batch 8 at 224x224 and at CIFAR's 32x32), a BERT-base-shaped encoder (seq 128, batch 8) and GPT-2
small (greedy generation with the key-value cache, batch 1). Ours are the zoo's models; the torch models are
written out below with the same parameter names (torchvision's and Hugging Face's), get our weights copied in and
the same inputs, and each case checks that both compute the same thing before it is timed.

    python bench/bench_zoo.py [--threads N] [--bert-layers L] [--repeat R] [--only resnet|bert|gpt2]

``--threads`` (default 1) is given to both libraries: OpenBLAS (ours, through numpy) and torch's intra-op pool.
On a loaded 2-core machine a second BLAS thread mostly waits for a core, so one thread each is the steadier
comparison; the thread count is printed with the tables.
"""
import argparse
import math
import os
import sys

_ARGS = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_ARGS.add_argument("--threads", type=int, default=1, help="BLAS / intra-op threads for both libraries")
_ARGS.add_argument("--bert-layers", type=int, default=12, help="encoder layers of the BERT-base-shaped model")
_ARGS.add_argument("--repeat", type=int, default=5, help="timed samples per case (median reported)")
_ARGS.add_argument("--only", choices=("resnet", "bert", "gpt2"), help="run one family")
ARGS = _ARGS.parse_args() if __name__ == "__main__" else _ARGS.parse_args([])
# OpenBLAS reads its thread count once, when numpy loads it
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np  # noqa: E402

import framework  # noqa: E402
import zoo  # noqa: E402
from bench._timing import measure, report, torch  # noqa: E402

if torch is None:
    sys.exit("bench_zoo compares with torch, which is not installed")
torch.set_num_threads(ARGS.threads)
tnn, tF = torch.nn, torch.nn.functional


# ----- torch models with the ecosystems' parameter names ----------------------------------------------------------
class BasicBlock(tnn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = tnn.Sequential(tnn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                             tnn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.bn2(self.conv2(tF.relu(self.bn1(self.conv1(x)))))
        return tF.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18(tnn.Module):
    """torchvision's resnet18 structure and names."""

    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        widths, inplanes = (64, 128, 256, 512), 64
        for i, planes in enumerate(widths):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", tnn.Sequential(BasicBlock(inplanes, planes, stride),
                                                          BasicBlock(planes, planes, 1)))
            inplanes = planes
        self.fc = tnn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(tF.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(tF.adaptive_avg_pool2d(x, 1), 1))


class BertLayer(tnn.Module):
    """Hugging Face BertLayer's names, flattened into one module with the same dotted keys."""

    def __init__(self, h, heads, inner):
        super().__init__()
        self.heads = heads
        self.attention = tnn.Module()
        self.attention.self = tnn.Module()
        for name in ("query", "key", "value"):
            setattr(self.attention.self, name, tnn.Linear(h, h))
        self.attention.output = tnn.Module()
        self.attention.output.dense, self.attention.output.LayerNorm = tnn.Linear(h, h), tnn.LayerNorm(h, eps=1e-12)
        self.intermediate = tnn.Module()
        self.intermediate.dense = tnn.Linear(h, inner)
        self.output = tnn.Module()
        self.output.dense, self.output.LayerNorm = tnn.Linear(inner, h), tnn.LayerNorm(h, eps=1e-12)
        self.dropout = tnn.Dropout(0.1)

    def forward(self, x):
        b, s, h = x.shape
        sa = self.attention.self
        q, k, v = (lin(x).view(b, s, self.heads, h // self.heads).transpose(1, 2) for lin in (sa.query, sa.key,
                                                                                              sa.value))
        probs = self.dropout(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(h // self.heads), -1))
        ctx = (probs @ v).transpose(1, 2).reshape(b, s, h)
        x = self.attention.output.LayerNorm(self.dropout(self.attention.output.dense(ctx)) + x)
        inner = tF.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(self.dropout(self.output.dense(inner)) + x)


class BertModel(tnn.Module):
    """Hugging Face BertModel's names (no attention mask: every benchmark sequence is full length)."""

    def __init__(self, layers, h=768, heads=12, inner=3072, vocab=30522, positions=512):
        super().__init__()
        self.embeddings = tnn.Module()
        self.embeddings.word_embeddings = tnn.Embedding(vocab, h, padding_idx=0)
        self.embeddings.position_embeddings = tnn.Embedding(positions, h)
        self.embeddings.token_type_embeddings = tnn.Embedding(2, h)
        self.embeddings.LayerNorm = tnn.LayerNorm(h, eps=1e-12)
        self.encoder = tnn.Module()
        self.encoder.layer = tnn.ModuleList(BertLayer(h, heads, inner) for _ in range(layers))
        self.pooler = tnn.Module()
        self.pooler.dense = tnn.Linear(h, h)
        self.dropout = tnn.Dropout(0.1)

    def forward(self, ids):
        e = self.embeddings
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        x = e.word_embeddings(ids) + e.position_embeddings(positions) + e.token_type_embeddings(torch.zeros_like(ids))
        x = self.dropout(e.LayerNorm(x))
        for layer in self.encoder.layer:
            x = layer(x)
        return x, torch.tanh(self.pooler.dense(x[:, 0]))


class Conv1D(tnn.Module):
    def __init__(self, nf, nx):
        super().__init__()
        self.weight, self.bias = tnn.Parameter(torch.empty(nx, nf)), tnn.Parameter(torch.zeros(nf))

    def forward(self, x):
        return x @ self.weight + self.bias


class GPT2Block(tnn.Module):
    """Hugging Face GPT2Block's names; attention appends to a (key, value) cache."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = tnn.LayerNorm(d), tnn.LayerNorm(d)
        self.attn = tnn.Module()
        self.attn.c_attn, self.attn.c_proj = Conv1D(3 * d, d), Conv1D(d, d)
        self.mlp = tnn.Module()
        self.mlp.c_fc, self.mlp.c_proj = Conv1D(4 * d, d), Conv1D(d, 4 * d)

    def forward(self, x, past):
        b, s, d = x.shape
        q, k, v = (t.view(b, s, self.heads, d // self.heads).transpose(1, 2)
                   for t in self.attn.c_attn(self.ln_1(x)).split(d, 2))
        if past is not None:
            k, v = torch.cat([past[0], k], -2), torch.cat([past[1], v], -2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)
        causal = torch.ones(s, k.shape[-2], dtype=torch.bool).tril(k.shape[-2] - s)
        probs = torch.softmax(torch.where(causal, scores, torch.finfo(scores.dtype).min), -1)
        x = x + self.attn.c_proj((probs @ v).transpose(1, 2).reshape(b, s, d))
        return x + self.mlp.c_proj(tF.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh")), (k, v)


class GPT2LMHeadModel(tnn.Module):
    """Hugging Face GPT2LMHeadModel's names (tied head) with greedy KV-cache generation."""

    def __init__(self, layers=12, d=768, heads=12, vocab=50257, positions=1024):
        super().__init__()
        self.transformer = tnn.Module()
        self.transformer.wte, self.transformer.wpe = tnn.Embedding(vocab, d), tnn.Embedding(positions, d)
        self.transformer.h = tnn.ModuleList(GPT2Block(d, heads) for _ in range(layers))
        self.transformer.ln_f = tnn.LayerNorm(d)
        self.lm_head = tnn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    @torch.no_grad()
    def generate(self, ids, max_new_tokens):
        tokens, fresh, past = ids, ids, [None] * len(self.transformer.h)
        for _ in range(max_new_tokens):
            start = 0 if past[0] is None else past[0][0].shape[-2]
            x = self.transformer.wte(fresh) + self.transformer.wpe(torch.arange(start, start + fresh.shape[1]))
            for i, block in enumerate(self.transformer.h):
                x, past[i] = block(x, past[i])
            chosen = self.lm_head(self.transformer.ln_f(x)[:, -1]).argmax(-1, keepdim=True)
            tokens, fresh = torch.cat([tokens, chosen], 1), chosen
        return tokens


# ----- helpers ----------------------------------------------------------------------------------------------------
def twin(ours, theirs):
    """Copy our state_dict into the torch model (names and shapes must match exactly)."""
    state = {k: torch.from_numpy(np.array(v.detach().numpy())) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state, strict=True)
    return theirs


def same(a, b, what, tol=2e-3):
    """Refuse to time two models that do not compute the same thing."""
    a, b = np.asarray(a.detach().numpy()), b.detach().numpy()
    err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-6)
    if not err < tol:
        raise AssertionError(f"{what}: ours and torch differ (max relative error {err:.2e})")


def inference(model, lib, inp):
    """A call of ``model(inp)`` under ``lib.no_grad()``."""
    def run():
        with lib.no_grad():
            model(inp)
    return run


def train_step(opt, loss_of):
    """A call doing one optimizer step on ``loss_of()``."""
    def step():
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        opt.step()
    return step


def rate(count, unit, times):
    return f"{count / times['ours']:.1f} / {count / times['torch']:.1f} {unit}"


# ----- cases ------------------------------------------------------------------------------------------------------
def resnet_cases(rows_inf, rows_train, size, classes):
    framework.manual_seed(0)
    torch.manual_seed(0)
    ours = zoo.load("resnet18", num_classes=classes)
    theirs = twin(ours, ResNet18(classes))
    x = np.random.default_rng(0).standard_normal((8, 3, size, size), dtype=np.float32)
    xo, xt = framework.from_numpy(x), torch.from_numpy(x)
    ours.eval(), theirs.eval()
    with framework.no_grad(), torch.no_grad():
        same(ours(xo), theirs(xt), f"resnet18 {size}x{size}")
    case = f"ResNet-18 batch 8, {size}x{size}"
    times = measure({"ours": inference(ours, framework, xo), "torch": inference(theirs, torch, xt)},
                    repeat=ARGS.repeat, min_time=0)
    rows_inf.append((case, times, rate(8, "img/s", times)))

    y = np.arange(8) % classes
    yo, yt = framework.from_numpy(y), torch.from_numpy(y)
    ours.train(), theirs.train()
    steps = {}
    for name, lib, model, inp, target in (("ours", framework, ours, xo, yo), ("torch", torch, theirs, xt, yt)):
        opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
        steps[name] = train_step(opt, lambda m=model, i=inp, t=target, F=lib.nn.functional: F.cross_entropy(m(i), t))
    times = measure(steps, repeat=ARGS.repeat, min_time=0)
    rows_train.append((case + ", SGD momentum", times, rate(8, "img/s", times)))


def bert_cases(rows_inf, rows_train, layers, batch=8, seq=128):
    framework.manual_seed(0)
    torch.manual_seed(0)
    ours = zoo.load("bert-base-uncased", config={"num_hidden_layers": layers})
    theirs = twin(ours, BertModel(layers))
    ids = np.random.default_rng(0).integers(1, 30522, (batch, seq))
    io, it = framework.from_numpy(ids), torch.from_numpy(ids)
    ours.eval(), theirs.eval()
    with framework.no_grad(), torch.no_grad():
        same(ours(io).last_hidden_state, theirs(it)[0], "bert")
    case = f"BERT-base-shaped encoder, {layers} layers, batch {batch}, seq {seq}"
    times = measure({"ours": inference(ours, framework, io), "torch": inference(theirs, torch, it)},
                    repeat=ARGS.repeat, min_time=0)
    rows_inf.append((case, times, rate(batch, "seq/s", times)))

    # a sentence-pair classification head on the pooled output, as in fine-tuning
    labels = np.arange(batch) % 2
    heads = {"ours": framework.nn.Linear(768, 2), "torch": tnn.Linear(768, 2)}
    twin(heads["ours"], heads["torch"])
    ours.train(), theirs.train()
    steps = {}
    for name, lib, model, inp, pooled in (("ours", framework, ours, io, lambda out: out.pooler_output),
                                          ("torch", torch, theirs, it, lambda out: out[1])):
        head, target = heads[name], lib.from_numpy(labels)
        opt = lib.optim.AdamW(list(model.parameters()) + list(head.parameters()), lr=2e-5)
        steps[name] = train_step(opt, lambda m=model, h=head, i=inp, p=pooled, t=target, F=lib.nn.functional:
                                 F.cross_entropy(h(p(m(i))), t))
    times = measure(steps, repeat=ARGS.repeat, min_time=0)
    rows_train.append((case + ", AdamW", times, rate(batch, "seq/s", times)))


def gpt2_cases(rows_gen, prompt=8, new=32):
    framework.manual_seed(0)
    torch.manual_seed(0)
    ours = zoo.load("gpt2").eval()
    theirs = twin(ours, GPT2LMHeadModel()).eval()
    ids = np.random.default_rng(0).integers(0, 50257, (1, prompt))
    io, it = framework.from_numpy(ids), torch.from_numpy(ids)
    if not np.array_equal(ours.generate(io, max_new_tokens=8).numpy(), theirs.generate(it, 8).numpy()):
        raise AssertionError("gpt2: ours and torch generate different tokens")
    times = measure({"ours": lambda: ours.generate(io, max_new_tokens=new), "torch": lambda: theirs.generate(it, new)},
                    repeat=ARGS.repeat, min_time=0)
    rows_gen.append((f"GPT-2 small (124M), batch 1, {prompt}-token prompt + {new} new, greedy", times,
                     rate(new, "tok/s", times)))


def table(title, rows, unit_header):
    report(title, [(case, times) for case, times, _ in rows], (unit_header, [r for _, _, r in rows]))


if __name__ == "__main__":
    print(f"threads per library: {ARGS.threads} (OPENBLAS_NUM_THREADS for ours, torch.set_num_threads for torch); "
          f"load average before: {os.getloadavg()[0]:.2f}")
    inf, train, gen = [], [], []
    if ARGS.only in (None, "resnet"):
        resnet_cases(inf, train, 224, 1000)
        resnet_cases(inf, train, 32, 10)
    if ARGS.only in (None, "bert"):
        bert_cases(inf, train, ARGS.bert_layers)
    if ARGS.only in (None, "gpt2"):
        gpt2_cases(gen)
    if inf:
        table("Inference (forward under no_grad)", inf, "throughput ours / torch")
        table("Training step (forward + backward + optimizer step)", train, "throughput ours / torch")
    if gen:
        table("Generation with the key-value cache", gen, "tokens/s ours / torch")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
