"""framework.utils.data: datasets, samplers, collation and DataLoader (also with worker processes) against PyTorch."""
import collections
import random

import numpy as np
import pytest

import framework
from framework.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
                                  RandomSampler, SequentialSampler, StackDataset, Subset, SubsetRandomSampler,
                                  TensorDataset, WeightedRandomSampler, default_collate, default_convert,
                                  get_worker_info, random_split)


def _torch():
    return pytest.importorskip("torch")


def _plain(x):
    """Nested structure with tensors (ours or torch's) replaced by (dtype name, values) for comparison."""
    if hasattr(x, "tolist") and hasattr(x, "dtype") and not isinstance(x, np.ndarray):
        return ("tensor", str(x.dtype).replace("torch.", ""), tuple(x.shape), x.tolist())
    if isinstance(x, dict):
        return (type(x).__name__, {k: _plain(v) for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_plain(v) for v in x])
    return x


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i >= self.n:
            raise IndexError(i)
        return i * i


class Stream(IterableDataset):
    """0..n-1, split between workers by get_worker_info()."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


class WorkerProbe(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "worker": info.id, "num_workers": info.num_workers, "seed": info.seed,
                "rand": framework.rand(1).item(), "py": random.random(), "np": float(np.random.rand())}


class Failing(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise KeyError("bad index 3")
        return i


class Slow(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        import time
        time.sleep(1.5)
        return i


def _record_init(worker_id):
    info = get_worker_info()
    np.random.seed(100 + worker_id)  # worker_init_fn runs after the worker's own seeding
    assert info.id == worker_id


# ----------------------------------------------------------------------------------------------
# datasets
# ----------------------------------------------------------------------------------------------
def test_tensor_dataset_and_combinators():
    x, y = framework.arange(10.).reshape(5, 2), framework.arange(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    assert ds[2][0].tolist() == [4.0, 5.0] and ds[2][1].item() == 2
    with pytest.raises(AssertionError, match="Size mismatch"):
        TensorDataset(x, framework.arange(4))
    cat = ConcatDataset([Squares(3), Squares(4)])
    assert len(cat) == 7 and cat.cumulative_sizes == [3, 7]
    assert [cat[i] for i in range(7)] == [0, 1, 4, 0, 1, 4, 9]
    assert cat[-1] == 9 and cat[-7] == 0
    with pytest.raises(ValueError, match="absolute value of index"):
        cat[-8]
    assert len(Squares(2) + Squares(3)) == 5
    with pytest.raises(AssertionError, match="empty"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="IterableDataset"):
        ConcatDataset([Stream(3)])
    sub = Subset(Squares(10), [9, 1, 4])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [81, 1, 16] and sub.__getitems__([2, 0]) == [16, 81]
    chain = Stream(2) + Stream(3)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    stack = StackDataset(Squares(3), Squares(3))
    assert stack[2] == (4, 4)
    assert StackDataset(a=Squares(2), b=Squares(2))[1] == {"a": 1, "b": 1}
    with pytest.raises(ValueError, match="Size mismatch"):
        StackDataset(Squares(2), Squares(3))
    with pytest.raises(NotImplementedError):
        Dataset()[0]


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.5, 0.25, 0.25], [0.33, 0.33, 0.34]])
def test_random_split_matches_torch(lengths):
    torch = _torch()
    ours = random_split(range(11 if isinstance(lengths[0], float) else 10), lengths,
                        generator=framework.Generator().manual_seed(42))
    theirs = torch.utils.data.random_split(range(11 if isinstance(lengths[0], float) else 10), lengths,
                                           generator=torch.Generator().manual_seed(42))
    assert [s.indices for s in ours] == [s.indices for s in theirs]
    framework.manual_seed(3)
    torch.manual_seed(3)
    assert ([s.indices for s in random_split(range(10), [4, 6])]
            == [s.indices for s in torch.utils.data.random_split(range(10), [4, 6])])
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(10), [4, 5])


# ----------------------------------------------------------------------------------------------
# samplers
# ----------------------------------------------------------------------------------------------
def test_samplers_match_torch():
    torch = _torch()
    td = torch.utils.data
    for seed in (0, 1234):
        framework.manual_seed(seed)
        torch.manual_seed(seed)
        assert list(RandomSampler(range(13))) == list(td.RandomSampler(range(13)))
        assert list(RandomSampler(range(7), num_samples=20)) == list(td.RandomSampler(range(7), num_samples=20))
        assert (list(RandomSampler(range(9), replacement=True, num_samples=70))
                == list(td.RandomSampler(range(9), replacement=True, num_samples=70)))
        assert list(SubsetRandomSampler([5, 6, 7, 8])) == list(td.SubsetRandomSampler([5, 6, 7, 8]))
        assert (list(WeightedRandomSampler([0.1, 0.9, 0.4, 2.0], 12))
                == list(td.WeightedRandomSampler([0.1, 0.9, 0.4, 2.0], 12)))
        assert (list(WeightedRandomSampler([1.0, 2.0, 3.0, 4.0], 3, replacement=False))
                == list(td.WeightedRandomSampler([1.0, 2.0, 3.0, 4.0], 3, replacement=False)))
        # the default generator must have advanced identically
        assert framework.rand(3).tolist() == torch.rand(3).tolist()
    g, tg = framework.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert list(RandomSampler(range(10), generator=g)) == list(td.RandomSampler(range(10), generator=tg))
    assert list(RandomSampler(range(10), generator=g)) == list(td.RandomSampler(range(10), generator=tg))


def test_sequential_and_batch_sampler():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2


def test_sampler_errors():
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got batch_size=0"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(range(3), 2, 1)
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0, 2.0]], 2)


# ----------------------------------------------------------------------------------------------
# collation
# ----------------------------------------------------------------------------------------------
Point = collections.namedtuple("Point", "x y")


def _collate_cases(lib):
    t = lib.tensor
    return [
        [t([1.0, 2.0]), t([3.0, 4.0])],
        [1, 2, 3],
        [1.5, 2.5],
        [True, False],
        ["a", "b"],
        [np.array([1, 2], dtype=np.int32), np.array([3, 4], dtype=np.int32)],
        [np.float32(1.5), np.float32(2.5)],
        [(t(1), "x", 2.0), (t(2), "y", 3.0)],
        [{"a": t([1]), "b": [1, 2]}, {"a": t([2]), "b": [3, 4]}],
        [collections.OrderedDict(k=1), collections.OrderedDict(k=2)],
        [Point(1, t(2.0)), Point(3, t(4.0))],
        [[1, 2], [3, 4]],
    ]


def test_default_collate_matches_torch():
    torch = _torch()
    from torch.utils.data import default_collate as torch_collate
    from torch.utils.data import default_convert as torch_convert
    for ours, theirs in zip(_collate_cases(framework), _collate_cases(torch)):
        assert _plain(default_collate(ours)) == _plain(torch_collate(theirs))
        assert _plain(default_convert(ours)) == _plain(torch_convert(theirs))
    assert isinstance(default_collate([Point(1, 2)]), Point)


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([np.array(["a"]), np.array(["b"])])


# ----------------------------------------------------------------------------------------------
# DataLoader, main process
# ----------------------------------------------------------------------------------------------
def _pair(n=10):
    torch = _torch()
    ours = TensorDataset(framework.arange(2.0 * n).reshape(n, 2), framework.arange(n))
    theirs = torch.utils.data.TensorDataset(torch.arange(2.0 * n).reshape(n, 2), torch.arange(n))
    return torch, ours, theirs


@pytest.mark.parametrize("seed", [0, 7, 2024])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffle_order_matches_torch(seed, drop_last):
    torch, ours, theirs = _pair(11)
    framework.manual_seed(seed)
    torch.manual_seed(seed)
    loader = DataLoader(ours, batch_size=3, shuffle=True, drop_last=drop_last)
    tloader = torch.utils.data.DataLoader(theirs, batch_size=3, shuffle=True, drop_last=drop_last)
    for _ in range(3):  # every epoch reshuffles
        got = [_plain(b) for b in loader]
        want = [_plain(b) for b in tloader]
        assert got == want
    assert len(loader) == len(tloader)
    assert framework.randn(4).tolist() == torch.randn(4).tolist()


def test_loader_generator_and_sampler_options():
    torch, ours, theirs = _pair(9)
    got = [b[1].tolist() for b in DataLoader(ours, batch_size=4, shuffle=True,
                                             generator=framework.Generator().manual_seed(5))]
    want = [b[1].tolist() for b in torch.utils.data.DataLoader(theirs, batch_size=4, shuffle=True,
                                                               generator=torch.Generator().manual_seed(5))]
    assert got == want
    assert [b.tolist() for b in DataLoader(Squares(5), batch_sampler=[[4, 0], [1]])] == [[16, 0], [1]]
    assert [b.tolist() for b in DataLoader(Squares(4), sampler=[3, 2, 1, 0], batch_size=2)] == [[9, 4], [1, 0]]
    assert list(DataLoader(Squares(3), batch_size=None)) == [0, 1, 4]  # default_convert leaves ints alone
    loader = DataLoader(Squares(3), batch_size=2, collate_fn=lambda b: sum(b), pin_memory=True)
    assert list(loader) == [1, 4] and len(loader) == 2


def test_loader_iterable_dataset():
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    assert len(DataLoader(Stream(7), batch_size=3)) == 3 and len(DataLoader(Stream(7), batch_size=3,
                                                                              drop_last=True)) == 2
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]


def test_loader_argument_errors():
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(Squares(3), sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(Squares(3), batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(Squares(3), batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="expected unspecified shuffle option, but got shuffle=True"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(Squares(3), num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified in multiprocessing"):
        DataLoader(Squares(3), prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(Squares(3), persistent_workers=True)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(Squares(3), timeout=-1)
    loader = DataLoader(Squares(3))
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        loader.batch_size = 2
    loader.num_workers = 0  # not frozen


# ----------------------------------------------------------------------------------------------
# DataLoader, worker processes
# ----------------------------------------------------------------------------------------------
def test_workers_keep_order_and_match_torch_shuffle():
    torch, ours, theirs = _pair(20)
    framework.manual_seed(11)
    torch.manual_seed(11)
    got = [_plain(b) for b in DataLoader(ours, batch_size=3, shuffle=True, num_workers=2)]
    want = [_plain(b) for b in torch.utils.data.DataLoader(theirs, batch_size=3, shuffle=True)]
    assert got == want
    assert get_worker_info() is None


def test_worker_info_and_seeds_match_torch():
    torch = _torch()

    class TorchProbe(torch.utils.data.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            info = torch.utils.data.get_worker_info()
            return {"i": i, "worker": info.id, "num_workers": info.num_workers, "seed": info.seed,
                    "rand": torch.rand(1).item(), "py": random.random(), "np": float(np.random.rand())}

    framework.manual_seed(5)
    torch.manual_seed(5)
    got = [_plain(b) for b in DataLoader(WorkerProbe(), batch_size=2, num_workers=2)]
    want = [_plain(b) for b in torch.utils.data.DataLoader(TorchProbe(), batch_size=2, num_workers=2)]
    assert got == want
    assert [b["worker"].tolist() for b in DataLoader(WorkerProbe(), batch_size=2, num_workers=2)] == \
        [[0, 0], [1, 1], [0, 0], [1, 1]]
    with_init = list(DataLoader(WorkerProbe(), batch_size=2, num_workers=2, worker_init_fn=_record_init))
    assert with_init[0]["np"][0].item() == np.random.RandomState(100).rand()


def test_workers_iterable_dataset_and_persistent():
    got = sorted(x for b in DataLoader(Stream(11), batch_size=2, num_workers=2) for x in b.tolist())
    assert got == list(range(11))
    loader = DataLoader(Squares(7), batch_size=2, shuffle=True, num_workers=2, persistent_workers=True,
                        prefetch_factor=1, generator=framework.Generator().manual_seed(1))
    first = [b.tolist() for b in loader]
    it = loader._iterator
    second = [b.tolist() for b in loader]
    assert loader._iterator is it and all(w.is_alive() for w in it._workers)
    assert sorted(sum(first, [])) == sorted(sum(second, [])) == [i * i for i in range(7)]
    torch = _torch()
    tloader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(7) ** 2), batch_size=2,
                                          shuffle=True, num_workers=2, persistent_workers=True, prefetch_factor=1,
                                          generator=torch.Generator().manual_seed(1))
    assert [first, second] == [[b[0].tolist() for b in tloader] for _ in range(2)]
    it._shutdown_workers()


def test_worker_errors():
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 1"):
        list(DataLoader(Failing(), batch_size=1, num_workers=2))
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        list(DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.5))
