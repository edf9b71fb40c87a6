"""zoo.Model, its metrics, callbacks and the progress bar: hand-checked values and a real training run."""
import io
import os
import sys

import pytest

import framework as torch
import framework.nn as nn
from framework.utils.data import DataLoader, TensorDataset

import zoo
from zoo import metrics as zm
from zoo.callbacks import Callback, EarlyStopping, LossMonitor, LRSchedulerCallback, ModelCheckpoint, Timer
from zoo.datasets import load_digits
from zoo.progress import progress, progress_enabled


def _toy(n=12, batch_size=4, seed=0):
    """A tiny 3-class problem and a matching linear network."""
    torch.manual_seed(seed)
    x = torch.randn(n, 5)
    y = torch.arange(n) % 3
    net = nn.Linear(5, 3)
    return net, DataLoader(TensorDataset(x, y), batch_size=batch_size)


# ---------------------------------------------------------------------------------------------- metrics
def test_accuracy_and_top_k_hand_checked():
    logits = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    target = torch.tensor([1, 1, 2, 2])
    acc = zm.get_metric("accuracy")
    acc.update(logits, target)
    assert acc.compute() == 0.5  # rows 0 and 2 are right
    top2 = zm.get_metric("top_2_accuracy")
    top2.update(logits, target)
    assert top2.compute() == 0.75  # row 3's class 2 is its lowest score
    one_hot = torch.eye(3)[target]
    acc.reset()
    acc.update(logits, one_hot)
    assert acc.compute() == 0.5


def test_accuracy_accumulates_over_batches_by_sample_count():
    acc = zm.get_metric("acc")
    acc.update(torch.tensor([[1.0, 0.0]]), torch.tensor([0]))                       # 1 of 1
    acc.update(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), torch.tensor([1, 1, 0]))  # 0 of 3
    assert acc.compute() == 0.25 and acc.name == "acc"


def test_regression_metrics_and_loss_hand_checked():
    out, target = torch.tensor([[1.0, 2.0], [3.0, 5.0]]), torch.tensor([[0.0, 2.0], [3.0, 3.0]])
    mae, mse = zm.get_metric("mean_absolute_error"), zm.get_metric("mse")
    mae.update(out, target)
    mse.update(out, target)
    assert mae.compute() == pytest.approx(3 / 4) and mse.compute() == pytest.approx(5 / 4)
    loss = zm.get_metric("loss")
    loss.update(torch.zeros(2, 1), None, 1.0)
    loss.update(torch.zeros(6, 1), None, 3.0)
    assert loss.compute() == pytest.approx((2 * 1.0 + 6 * 3.0) / 8)


def test_metric_errors():
    with pytest.raises(ValueError, match="unknown metric 'f1'.*accuracy.*mae"):
        zm.get_metric("f1")
    with pytest.raises(ValueError, match="k=5 exceeds the 3 classes"):
        zm.get_metric("top_k_accuracy").update(torch.zeros(2, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="output shape"):
        zm.get_metric("mae").update(torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(RuntimeError, match="before any update"):
        zm.get_metric("accuracy").compute()
    with pytest.raises(ValueError, match="unknown metric"):
        zoo.Model(nn.Linear(2, 2), metrics=["accurcy"])


def test_metrics_match_torch_on_random_batches():
    torch_ = pytest.importorskip("torch")
    torch.manual_seed(1)
    logits, target = torch.randn(50, 7), torch.randint(0, 7, (50,))
    ref_logits, ref_target = torch_.tensor(logits.numpy()), torch_.tensor(target.numpy())
    for k in (1, 3):
        m = zm.TopKAccuracy(k)
        m.update(logits, target)
        expected = (ref_logits.topk(k, dim=1).indices == ref_target[:, None]).any(1).double().mean().item()
        assert m.compute() == pytest.approx(expected)


# ---------------------------------------------------------------------------------------------- Model
def test_model_api_trains_digits_to_accuracy():
    torch.manual_seed(0)
    x_train, y_train, x_test, y_test = load_digits()
    net = zoo.load("mlp", in_features=64, hidden_features=(64,), num_classes=10)
    model = zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.Adam(net.parameters(), lr=5e-3),
                      metrics=["accuracy", "top_3_accuracy"])
    train = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True)
    test = DataLoader(TensorDataset(x_test, y_test), batch_size=128)
    history = model.train(3, train, test, verbose=0)
    assert set(history) == {"loss", "accuracy", "top_3_accuracy", "val_loss", "val_accuracy", "val_top_3_accuracy"}
    assert all(len(v) == 3 for v in history.values())
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.93  # chance is 0.1
    result = model.evaluate(test, verbose=0)
    assert result["accuracy"] == pytest.approx(history["val_accuracy"][-1])
    assert result["top_3_accuracy"] >= result["accuracy"]
    predicted = model.predict(x_test)
    assert predicted.shape == (360, 10)
    assert (predicted.argmax(1) == y_test).float().mean().item() == pytest.approx(result["accuracy"])
    assert torch.allclose(model.predict(test, verbose=0), predicted, atol=1e-5)  # batched GEMMs round differently


def test_train_loss_equals_manual_loop():
    net, loader = _toy()
    reference = nn.Linear(5, 3)
    reference.load_state_dict(net.state_dict())
    model = zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.1), metrics=[])
    history = model.train(1, loader, verbose=0)
    opt, total = torch.optim.SGD(reference.parameters(), lr=0.1), 0.0
    for x, y in loader:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(reference(x), y)
        loss.backward()
        opt.step()
        total += loss.item() * x.shape[0]
    assert history["loss"] == [pytest.approx(total / 12)]
    for a, b in zip(net.parameters(), reference.parameters()):
        assert torch.allclose(a, b)


def test_model_argument_errors():
    net, loader = _toy()
    with pytest.raises(ValueError, match="needs both loss_fn and optimizer"):
        zoo.Model(net, nn.CrossEntropyLoss()).train(1, loader)
    with pytest.raises(TypeError, match="nn.Module"):
        zoo.Model(lambda x: x)
    with pytest.raises(TypeError, match="Callback"):
        zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.1)).train(1, loader,
                                                                                             callbacks=[print])
    with pytest.raises(ValueError, match=r"\(inputs, targets\) pair"):
        zoo.Model(net, nn.CrossEntropyLoss()).evaluate([torch.zeros(2, 5)])


def test_graph_mode_needs_framework_compile():
    net, loader = _toy()
    if not hasattr(torch, "compile"):
        with pytest.raises(NotImplementedError, match="graph mode is unavailable"):
            zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.1), graph=True)
        return
    eager_net = nn.Linear(5, 3)
    eager_net.load_state_dict(net.state_dict())
    graph = zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.1), graph=True)
    eager = zoo.Model(eager_net, nn.CrossEntropyLoss(), torch.optim.SGD(eager_net.parameters(), lr=0.1))
    assert graph.train(2, loader, verbose=0)["loss"] == pytest.approx(eager.train(2, loader, verbose=0)["loss"])


# ---------------------------------------------------------------------------------------------- callbacks
class _Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin", logs["epochs"], logs["steps"]))

    def on_train_end(self, logs=None):
        self.events.append(("train_end",))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, sorted(logs)))

    def on_batch_begin(self, batch, logs=None):
        self.events.append(("batch_begin", batch))

    def on_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, logs["size"]))


def test_callbacks_fire_in_order():
    net, loader = _toy(n=10, batch_size=4)
    rec = _Recorder()
    zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.1)).train(
        2, loader, loader, callbacks=[rec], verbose=0)
    assert rec.model is not None and rec.model.network is net
    keys = ["accuracy", "epoch", "loss", "val_accuracy", "val_loss"]
    epoch = lambda e: [("epoch_begin", e), ("batch_begin", 0), ("batch_end", 0, 4), ("batch_begin", 1),  # noqa: E731
                       ("batch_end", 1, 4), ("batch_begin", 2), ("batch_end", 2, 2), ("epoch_end", e, keys)]
    assert rec.events == [("train_begin", 2, 3), *epoch(0), *epoch(1), ("train_end",)]


def test_early_stopping_stops_and_restores_best_weights():
    net, loader = _toy()
    # lr=0: the loss never changes, so it never improves after the first epoch
    model = zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.0))
    stop = EarlyStopping(monitor="loss", patience=1)
    history = model.train(10, loader, callbacks=[stop], verbose=0)
    assert len(history["loss"]) == 3 and stop.stopped_epoch == 2 and stop.best_epoch == 0

    class Bump(Callback):  # makes the weights worse after the best epoch so restoring is visible
        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = [0.5, 0.9, 0.7, 0.6][epoch]
            with torch.no_grad():
                self.model.network.weight.add_(1.0)

    net, loader = _toy()
    start = net.weight.detach().clone()
    stop = EarlyStopping(monitor="score", patience=1, mode="max", restore_best_weights=True)
    history = zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.0)).train(
        10, loader, callbacks=[Bump(), stop], verbose=0)
    assert history["score"] == [0.5, 0.9, 0.7, 0.6] and stop.best_epoch == 1 and stop.stopped_epoch == 3
    assert torch.allclose(net.weight, start + 2.0)  # the weights after epoch 1's bump


def test_early_stopping_min_delta_and_mode():
    stop = EarlyStopping(monitor="val_loss", min_delta=0.1, patience=0)
    stop.set_model(type("M", (), {"stop_training": False})())
    stop.on_train_begin()
    for epoch, value in enumerate([1.0, 0.95]):  # 0.05 is within min_delta: no improvement
        stop.on_epoch_end(epoch, {"val_loss": value})
    assert stop.model.stop_training and stop.best == 1.0
    assert EarlyStopping(monitor="val_accuracy").mode == "max" and EarlyStopping().mode == "min"
    with pytest.raises(KeyError, match="'val_loss' is not in the epoch logs"):
        stop.on_epoch_end(3, {"loss": 1.0})
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="best")


def test_model_checkpoint_best_only_is_atomic_and_reloadable(tmp_path, monkeypatch):
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((os.path.dirname(os.fspath(src)), os.fspath(dst)))
        real_replace(src, dst)
    monkeypatch.setattr(os, "replace", spy)

    net, loader = _toy()
    path = tmp_path / "best.pt"
    ckpt = ModelCheckpoint(path, monitor="score", mode="max", save_best_only=True)

    class Score(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = [0.3, 0.5, 0.4][epoch]
            if epoch == 1:
                self.best_state = {k: v.clone() for k, v in self.model.network.state_dict().items()}
    score = Score()
    zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.5)).train(
        3, loader, callbacks=[score, ckpt], verbose=0)
    assert ckpt.saved == [str(path), str(path)] and ckpt.best == 0.5  # epochs 0 and 1 improved
    assert replaced == [(str(tmp_path), str(path))] * 2  # written to a temp file beside it, then renamed
    assert os.listdir(tmp_path) == ["best.pt"]
    loaded = torch.load(path)
    assert set(loaded) == set(score.best_state)
    assert all(torch.equal(loaded[k], score.best_state[k]) for k in loaded)


def test_model_checkpoint_every_epoch_with_pattern_and_full_state(tmp_path):
    net, loader = _toy()
    ckpt = ModelCheckpoint(str(tmp_path / "ep{epoch:02d}-{loss:.2f}.pt"), save_weights_only=False)
    model = zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.Adam(net.parameters(), lr=0.01))
    history = model.train(2, loader, callbacks=[ckpt], verbose=0)
    assert [os.path.basename(p) for p in ckpt.saved] == [f"ep{e + 1:02d}-{history['loss'][e]:.2f}.pt" for e in (0, 1)]
    state = torch.load(ckpt.saved[-1])
    assert state["epoch"] == 2 and set(state["optimizer"]) == {"state", "param_groups"}
    assert all(torch.equal(state["model"][k], v) for k, v in net.state_dict().items())


def test_lr_scheduler_callback_per_epoch_per_batch_and_plateau():
    net, loader = _toy(n=12, batch_size=4)  # 3 batches per epoch
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sched = LRSchedulerCallback(torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5))
    history = zoo.Model(net, nn.CrossEntropyLoss(), opt).train(3, loader, callbacks=[sched], verbose=0)
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.025])

    net, loader = _toy(n=12, batch_size=4)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sched = LRSchedulerCallback(torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5), interval="batch")
    history = zoo.Model(net, nn.CrossEntropyLoss(), opt).train(2, loader, callbacks=[sched], verbose=0)
    assert history["lr"] == pytest.approx([0.1 * 0.5 ** 3, 0.1 * 0.5 ** 6])

    class Flat(Callback):  # a monitored value that never improves
        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = 1.0

    net, loader = _toy()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    history = zoo.Model(net, nn.CrossEntropyLoss(), opt).train(
        3, loader, callbacks=[Flat(), LRSchedulerCallback(plateau, monitor="score")], verbose=0)
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05]) and opt.param_groups[0]["lr"] == pytest.approx(0.025)
    with pytest.raises(ValueError, match="interval"):
        LRSchedulerCallback(plateau, interval="batch")


def test_timer_logs_epoch_time_and_throughput():
    ticks = iter(range(100))
    timer = Timer(clock=lambda: float(next(ticks)))
    net, loader = _toy(n=12, batch_size=4)
    history = zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.1)).train(
        2, loader, callbacks=[timer], verbose=0)
    # per epoch: begin at t, 3 batch ends at t+1..t+3, epoch end at t+4
    assert history["epoch_time"] == [4.0, 4.0] and history["samples_per_sec"] == [4.0, 4.0]
    assert timer.epoch_times == [4.0, 4.0]


def test_loss_monitor_prints_each_epoch_and_batch():
    lines = []
    net, loader = _toy(n=8, batch_size=4)
    zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.1)).train(
        2, loader, callbacks=[LossMonitor(per_print_times=2, print_fn=lines.append)], verbose=0)
    assert len(lines) == 4
    assert lines[0].startswith("  batch 2  loss ") and lines[1].startswith("epoch 1/2  loss ")
    assert "accuracy" in lines[1] and lines[3].startswith("epoch 2/2")


# ---------------------------------------------------------------------------------------------- progress
def test_progress_silent_when_not_a_terminal(capsys, monkeypatch):
    monkeypatch.delenv("ZOO_PROGRESS", raising=False)
    assert not sys.stdout.isatty()
    bar = progress(range(3), desc="x")
    assert list(bar) == [0, 1, 2]
    bar.set_postfix(loss="1.0")
    bar.close()
    net, loader = _toy()
    zoo.Model(net, nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=0.1)).train(1, loader, loader)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_draws_on_a_terminal_unless_disabled(monkeypatch):
    pytest.importorskip("tqdm")

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    term = Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    monkeypatch.delenv("ZOO_PROGRESS", raising=False)
    assert progress_enabled()
    assert list(progress(range(4), desc="demo")) == [0, 1, 2, 3]
    assert "demo:" in term.getvalue() and "/4 [" in term.getvalue()  # tqdm throttles redraws; the first shows
    monkeypatch.setenv("ZOO_PROGRESS", "0")
    assert not progress_enabled() and progress_enabled(True)
    before = term.getvalue()
    list(progress(range(4), desc="hidden"))
    assert term.getvalue() == before
    monkeypatch.delenv("ZOO_PROGRESS")
    list(progress(range(4), desc="verbose0", enabled=False))
    assert term.getvalue() == before
    with pytest.raises(TypeError, match="without an iterable"):
        iter(progress(total=3, enabled=False))
