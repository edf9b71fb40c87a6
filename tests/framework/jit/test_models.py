"""Eager against graph mode on whole models: forward (inference) and 20-step training loops."""
import numpy as np
import pytest

import framework
import framework.nn as nn
import framework.nn.functional as F

# capture and the executor alone; test_compile.py runs the full pass pipeline ("inductor") on the same paths
BACKEND = "eager"


class LeNet(nn.Module):
    """LeNet-style CNN on 1x12x12 inputs."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.conv2 = nn.Conv2d(4, 6, 3)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


class Block(nn.Module):
    """A GPT-like pre-norm transformer block with causal self-attention and dropout."""

    def __init__(self, d=16, heads=2, p=0.1):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.drop = nn.Dropout(p)
        self.head = nn.Linear(d, 5)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5
        mask = framework.ones(t, t).tril() == 0
        att = self.drop(att.masked_fill(mask, float("-inf")).softmax(-1))
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.drop(self.proj(y))
        x = x + self.drop(self.mlp(self.ln2(x)))
        return self.head(x)


class Recurrent(nn.Module):
    """An LSTM over a sequence, classifying from the last step."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 8, batch_first=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def _mlp():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))


MODELS = {
    "mlp": (_mlp, lambda rng: rng.standard_normal((4, 8)), 3),
    "lenet": (LeNet, lambda rng: rng.standard_normal((2, 1, 12, 12)), 3),
    "gpt_block": (Block, lambda rng: rng.standard_normal((2, 5, 16)), 5),
    "lstm": (Recurrent, lambda rng: rng.standard_normal((2, 4, 6)), 3),
}


def _batches(name, n):
    rng = np.random.default_rng(7)
    _, make_x, classes = MODELS[name]
    out = []
    for _ in range(n):
        x = framework.tensor(make_x(rng).astype(np.float32))
        y = framework.tensor(rng.integers(0, classes, x.shape[0] * (x.shape[1] if name == "gpt_block" else 1)))
        out.append((x, y))
    return out


def _train(name, compiled, opt_name, schedule, steps=20):
    framework.manual_seed(0)
    model = MODELS[name][0]()
    if opt_name == "sgd":
        opt = framework.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        opt = framework.optim.Adam(model.parameters(), lr=0.01)
    scheduler = framework.optim.lr_scheduler.StepLR(opt, 4, 0.5) if schedule else None

    def step(x, y):
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y)
        loss.backward()
        opt.step()
        return loss

    run = framework.compile(step, backend=BACKEND) if compiled else step
    framework.manual_seed(1)
    losses = []
    for x, y in _batches(name, steps):
        losses.append(run(x, y).detach().numpy().copy())
        if scheduler is not None:
            scheduler.step()
    return model, np.array(losses), run


def _assert_close(a, b, rtol=1e-6):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-6 * max(1.0, float(np.abs(b).max(initial=0))))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_inference_matches_eager(name):
    framework.manual_seed(0)
    model = MODELS[name][0]().eval()
    compiled = framework.compile(model, backend=BACKEND)
    with framework.no_grad():
        for x, _ in _batches(name, 3):
            _assert_close(compiled(x).numpy(), model(x).numpy())
    assert len(compiled._compiled.entries) == 1 and not compiled._compiled.breaks


@pytest.mark.parametrize("opt_name,schedule", [("sgd", False), ("sgd", True), ("adam", False), ("adam", True)])
def test_mlp_training_20_steps_equals_eager(opt_name, schedule):
    eager_model, eager_losses, _ = _train("mlp", False, opt_name, schedule)
    graph_model, graph_losses, run = _train("mlp", True, opt_name, schedule)
    _assert_close(graph_losses, eager_losses)
    for a, b in zip(graph_model.parameters(), eager_model.parameters()):
        _assert_close(a.detach().numpy(), b.detach().numpy())
    # one trace with empty optimizer state, one after: the lr schedule and step count never re-trace
    assert len(run.entries) == 2 and not run.breaks
    assert not any(e.eager for e in run.entries)


@pytest.mark.parametrize("name", ["lenet", "gpt_block", "lstm"])
def test_model_training_equals_eager(name):
    eager_model, eager_losses, _ = _train(name, False, "adam", False, steps=6)
    graph_model, graph_losses, run = _train(name, True, "adam", False, steps=6)
    assert not run.breaks, run.breaks
    _assert_close(graph_losses, eager_losses, rtol=1e-5)
    for a, b in zip(graph_model.parameters(), eager_model.parameters()):
        _assert_close(a.detach().numpy(), b.detach().numpy(), rtol=1e-5)
