"""Real models trained end to end: accuracy on bundled digits, and loss curves that follow torch's exactly."""
import os

import numpy as np
import pytest

import framework
from framework import nn
from framework.utils.data import DataLoader, TensorDataset
from zoo.datasets import DATA_DIR, load_digits


def _fit(model, optimizer, x, y, epochs, batch_size=64):
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimizer.step()


def _accuracy(model, x, y):
    model.eval()
    with framework.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def test_mlp_reaches_95_percent_on_digits():
    framework.manual_seed(0)
    x_train, y_train, x_test, y_test = load_digits()
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))
    _fit(model, framework.optim.Adam(model.parameters(), lr=1e-2), x_train, y_train, epochs=15)
    assert _accuracy(model, x_test, y_test) >= 0.95


def test_lenet_reaches_95_percent_on_digits():
    framework.manual_seed(0)
    x_train, y_train, x_test, y_test = load_digits()
    images = lambda x: x.reshape(-1, 1, 8, 8)  # noqa: E731
    # LeNet-5's layout (two conv+pool stages, three fully connected layers) sized for 8x8 images
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(32 * 2 * 2, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    _fit(model, framework.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), images(x_train), y_train,
         epochs=15)
    assert _accuracy(model, images(x_test), y_test) >= 0.95


def _text_batches(seq=32, batch=8, steps=25):
    with open(os.path.join(DATA_DIR, "declaration.txt")) as f:
        text = f.read()
    vocab = sorted(set(text))
    codes = np.array([vocab.index(c) for c in text], dtype=np.int64)
    rng = np.random.default_rng(0)
    starts = rng.integers(0, len(codes) - seq - 1, size=(steps, batch))
    return len(vocab), [(np.stack([codes[s:s + seq] for s in row]), np.stack([codes[s + 1:s + seq + 1] for s in row]))
                        for row in starts]


def _char_lstm(lib, vocab):
    class CharLSTM(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = lib.nn.Embedding(vocab, 32)
            self.rnn = lib.nn.LSTM(32, 64, num_layers=2, batch_first=True)
            self.out = lib.nn.Linear(64, vocab)

        def forward(self, idx):
            return self.out(self.rnn(self.emb(idx))[0])
    return CharLSTM()


def _char_transformer(lib, vocab, seq=32):
    class CharTransformer(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = lib.nn.Embedding(vocab, 32)
            self.pos = lib.nn.Parameter(lib.zeros(seq, 32))
            layer = lib.nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0, batch_first=True)
            self.enc = lib.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
            self.out = lib.nn.Linear(32, vocab)

        def forward(self, idx):
            mask = lib.nn.Transformer.generate_square_subsequent_mask(idx.shape[1])
            return self.out(self.enc(self.emb(idx) + self.pos, mask=mask, is_causal=True))
    return CharTransformer()


def _loss_curve(lib, build, vocab, batches):
    lib.manual_seed(0)
    model = build(lib, vocab)
    opt = lib.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for x, y in batches:
        opt.zero_grad()
        logits = model(lib.tensor(x))
        loss = lib.nn.functional.cross_entropy(logits.reshape(-1, vocab), lib.tensor(y).reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


@pytest.mark.parametrize("build", [_char_lstm, _char_transformer], ids=["lstm", "transformer"])
def test_char_language_model_loss_follows_torch(build):
    torch = pytest.importorskip("torch")
    vocab, batches = _text_batches()
    ours = _loss_curve(framework, build, vocab, batches)
    theirs = _loss_curve(torch, build, vocab, batches)
    assert ours[-5:].mean() < 0.8 * ours[:5].mean()  # it learns
    np.testing.assert_allclose(ours, theirs, rtol=2e-3, atol=2e-3)  # same init, same data: the same curve
