"""What runs inside a DataLoader worker process: seeding, ``get_worker_info`` and the fetch loop."""
import pickle
import queue
import random
import sys
import traceback

import numpy as np

__all__ = ["WorkerInfo", "get_worker_info"]

_POLL_S = 1.0  # how often an idle worker checks whether the loader has gone away

_worker_info = None


class WorkerInfo:
    """Describes the current worker: ``id``, ``num_workers``, ``seed`` and its copy of ``dataset``."""

    __initialized = False

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        super().__setattr__(key, val)

    def __repr__(self):
        return f"WorkerInfo({', '.join(f'{k}={getattr(self, k)}' for k in self.__keys)})"


def get_worker_info():
    """The :class:`WorkerInfo` inside a DataLoader worker process, None in the main process."""
    return _worker_info


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its traceback text."""

    def __init__(self, where):
        exc_type, exc, tb = sys.exc_info()
        self.exc_type = exc_type
        self.message = f"Caught {exc_type.__name__} {where}.\nOriginal " + "".join(
            traceback.format_exception(exc_type, exc, tb))

    def reraise(self):
        """Raise the original exception type with the worker's traceback in the message."""
        msg = repr(self.message) if self.exc_type is KeyError else self.message  # KeyError quotes its argument
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exc


class IterableStop:
    """Sent by a worker whose iterable dataset is exhausted."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


class ResumeIteration:
    """Sent to persistent workers at the start of a new epoch."""


def seed_worker(base_seed, worker_id):
    """Seed Python's, our and numpy's global RNGs as PyTorch's workers do."""
    from ... import random as _random
    seed = base_seed + worker_id
    random.seed(seed)
    _random.manual_seed(seed)
    mask = 0xFFFFFFFF
    np.random.seed(np.random.SeedSequence([worker_id, base_seed & mask, base_seed >> 32, 0]).generate_state(4))
    return seed


def make_fetcher(dataset, is_iterable, auto_collation, collate_fn, drop_last):
    """A function from an index (or list of indices) to a collated batch; StopIteration ends an iterable."""
    if is_iterable:
        it = iter(dataset)

        def fetch(indices):
            if not auto_collation:
                return collate_fn(next(it))
            batch = []
            for _ in indices:
                try:
                    batch.append(next(it))
                except StopIteration:
                    break
            if not batch or (drop_last and len(batch) < len(indices)):
                raise StopIteration
            return collate_fn(batch)
        return fetch

    getitems = getattr(dataset, "__getitems__", None)

    def fetch(index):
        if not auto_collation:
            return collate_fn(dataset[index])
        data = getitems(index) if callable(getitems) else [dataset[i] for i in index]
        return collate_fn(data)
    return fetch


def _dumps(data, worker_id):
    """Pickle here rather than in the queue's feeder thread, whose failures would be silent."""
    try:
        return pickle.dumps(data, pickle.HIGHEST_PROTOCOL)
    except Exception:
        return pickle.dumps(ExceptionWrapper(f"in DataLoader worker process {worker_id}"))


def worker_loop(dataset, is_iterable, index_queue, data_queue, done_event, auto_collation, collate_fn, drop_last,
                base_seed, init_fn, worker_id, num_workers):
    """Serve ``(task, indices)`` requests from ``index_queue`` until ``None`` arrives or the loader is done."""
    global _worker_info
    try:
        seed = seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetch = make_fetcher(dataset, is_iterable, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
        exhausted = False
        while not done_event.is_set():
            try:
                task = index_queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if task is None:
                break
            if isinstance(task, ResumeIteration):
                data_queue.put((task, None))
                exhausted = False
                fetch = make_fetcher(dataset, is_iterable, auto_collation, collate_fn, drop_last)
                continue
            idx, indices = task
            if init_error is not None:
                data, init_error = init_error, None
            elif exhausted:
                data = IterableStop(worker_id)
            else:
                try:
                    data = fetch(indices)
                except StopIteration:
                    if not is_iterable:
                        data = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
                    else:
                        exhausted, data = True, IterableStop(worker_id)
                except Exception:
                    data = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
            data_queue.put((idx, _dumps(data, worker_id)))
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
