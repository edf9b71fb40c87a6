"""The README's main job: the quick digits run trains to a useful accuracy, reproducibly."""
from zoo.__main__ import train
from zoo.datasets import load_digits


def test_digits_split_shapes_and_ranges():
    x_train, y_train, x_test, y_test = load_digits()
    assert x_train.shape == (1437, 64) and x_test.shape == (360, 64)
    assert float(x_train.min()) >= 0.0 and float(x_train.max()) <= 1.0
    assert sorted(set(y_train.tolist())) == list(range(10))
    images = load_digits(image_size=32)[0]
    assert images.shape == (1437, 1, 32, 32) and float(images.min()) >= 0.0 and float(images.max()) <= 1.0


def test_quick_training_run_reaches_stated_accuracy_and_is_reproducible():
    first = train("mlp", verbose=0)[1]["val_accuracy"]
    assert len(first) == 5 and first[-1] >= 0.97  # the accuracy the README and --help state (chance is 0.1)
    assert train("mlp", epochs=2, verbose=0)[1]["val_accuracy"] == first[:2]
