"""The README's main job: the quick digits run trains to a useful accuracy, reproducibly."""
from zoo.__main__ import train_mlp
from zoo.datasets import load_digits


def test_digits_split_shapes_and_ranges():
    x_train, y_train, x_test, y_test = load_digits()
    assert x_train.shape == (1437, 64) and x_test.shape == (360, 64)
    assert float(x_train.min()) >= 0.0 and float(x_train.max()) <= 1.0
    assert sorted(set(y_train.tolist())) == list(range(10))


def test_quick_training_run_learns_and_is_reproducible():
    first = train_mlp(epochs=3, quiet=True)
    assert first > 0.9  # chance is 0.1
    assert train_mlp(epochs=3, quiet=True) == first
