"""``save``/``load`` in PyTorch's own checkpoint format, plus safetensors helpers.

A checkpoint is a zip archive (stored, records aligned to 64 bytes) holding ``<name>/data.pkl``, a
protocol-2 pickle in which every tensor is ``torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, requires_grad, hooks)`` and every storage a persistent id ``('storage', torch.FloatStorage,
key, location, numel)`` whose bytes are the record ``<name>/data/<key>``. We write the ``torch.*``
names ourselves (torch need not be installed) and map them back to our objects when loading, so
files move both ways between the framework and PyTorch.
"""
import _compat_pickle
import collections
import contextlib
import importlib
import io
import os
import pickle
import struct
import sys
import tempfile
import zipfile

import numpy as np

from . import _dtype
from ._device import device as _device_cls
from ._tensor import Size, Tensor, VersionCounter

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals", "safe_globals",
           "save_safetensors", "load_safetensors"]

DEFAULT_PROTOCOL = 2
_ALIGNMENT = 64
_FILE_FORMAT_VERSION = b"3\n"

# PyTorch's legacy typed-storage class names: what a storage's persistent id names per dtype.
_STORAGE_NAMES = {"float32": "FloatStorage", "float64": "DoubleStorage", "float16": "HalfStorage",
                  "bfloat16": "BFloat16Storage", "int64": "LongStorage", "int32": "IntStorage",
                  "int16": "ShortStorage", "int8": "CharStorage", "uint8": "ByteStorage", "bool": "BoolStorage"}


def _rebuild_tensor(array, dtype_name, device_str, requires_grad):
    """Unpickle a tensor pickled with plain ``pickle`` (``Tensor.__reduce_ex__``)."""
    t = Tensor._wrap(array, _dtype._BY_NAME[dtype_name])
    if device_str != "cpu":
        t = t.to(device_str)
    t._requires_grad = requires_grad
    return t


# ----------------------------------------------------------------------------------------------
# Saving
# ----------------------------------------------------------------------------------------------
class _TorchName:
    """A ``module.name`` global that the save pickler writes verbatim (the object need not exist here)."""

    _cache = {}

    def __new__(cls, module, name):
        key = (module, name)
        if key not in cls._cache:
            self = object.__new__(cls)
            self.module, self.name = module, name
            cls._cache[key] = self
        return cls._cache[key]

    def __call__(self, *args):
        # save_reduce insists that the reconstructor is callable; this one only exists to be named.
        raise TypeError(f"{self.module}.{self.name} is a name written into checkpoints, not a function")


class _StorageRef:
    """Stands for one storage in the pickle; the pickler turns it into a persistent id."""

    def __init__(self, key, dtype, location, numel):
        self.pid = ("storage", _TorchName("torch", _STORAGE_NAMES[dtype.name]), key, location, numel)


class _SavePickler(pickle._Pickler):
    """The pure-Python pickler, so that ``torch.*`` globals can be written without importing torch."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages = {}  # id(root array) -> (key, root array, dtype)

    def _save_torch_name(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)

    dispatch[_TorchName] = _save_torch_name

    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, _StorageRef) else None

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, _dtype.dtype):
            return super().save(_TorchName("torch", obj.name))
        reduced = self._torch_reduce(obj)
        if reduced is None:
            return super().save(obj, save_persistent_id)
        memo = self.memo.get(id(obj))
        if memo is not None:
            self.write(self.get(memo[0]))
            return
        self.save_reduce(*reduced, obj=obj)

    def _torch_reduce(self, obj):
        if isinstance(obj, Tensor):
            from .nn.parameter import Parameter
            if isinstance(obj, Parameter):
                plain = Tensor._wrap(obj._data, obj.dtype, obj._device)
                return (_TorchName("torch._utils", "_rebuild_parameter"),
                        (plain, obj._requires_grad, collections.OrderedDict()))
            return (_TorchName("torch._utils", "_rebuild_tensor_v2"), self._tensor_args(obj))
        if isinstance(obj, Size):
            return _TorchName("torch", "Size"), (tuple(obj),)
        if isinstance(obj, _device_cls):
            return _TorchName("torch", "device"), ((obj.type,) if obj.index is None else (obj.type, obj.index))
        return None

    def _tensor_args(self, t):
        location = "cpu"
        if t._device.type != "cpu":
            location = str(t._device) if t._device.index is not None else f"{t._device.type}:0"
            t = t.to("cpu")
        arr = t._data
        root, offset = _storage_of(arr)
        if root is None or self.storages.get(id(root), (None, None, t.dtype))[2] is not t.dtype:
            root, offset = np.ascontiguousarray(arr), 0
        stride = t.stride() if arr.size else _contiguous(arr.shape)
        if id(root) not in self.storages:
            self.storages[id(root)] = (str(len(self.storages)), root, t.dtype)
        key = self.storages[id(root)][0]
        ref = _StorageRef(key, t.dtype, location, root.size)
        return (ref, offset, Size(arr.shape), tuple(stride), t._requires_grad, collections.OrderedDict())


def _contiguous(shape):
    strides, step = [], 1
    for s in reversed(shape):
        strides.append(step)
        step *= max(s, 1)
    return tuple(reversed(strides))


def _storage_of(arr):
    """The array owning ``arr``'s memory and ``arr``'s element offset in it; (None, 0) if not expressible."""
    root = arr
    while isinstance(root.base, np.ndarray):
        root = root.base
    item = arr.itemsize
    if (arr.size == 0 or root.dtype != arr.dtype or not root.flags.c_contiguous
            or any(s < 0 or s % item for s in arr.strides)):
        return None, 0
    delta = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    if delta < 0 or delta % item:
        return None, 0
    return root, delta // item


def _pad_extra(offset, name):
    """The zip extra field PyTorch writes so that each record's bytes start on a 64-byte boundary."""
    start = offset + 30 + len(name.encode("utf-8")) + 4
    pad = -start % _ALIGNMENT
    return b"FB" + struct.pack("<H", pad) + b"Z" * pad


def _write_archive(fh, archive_name, pickled, storages):
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        def record(name, data):
            full = f"{archive_name}/{name}"
            info = zipfile.ZipInfo(full, date_time=(1980, 1, 1, 0, 0, 0))
            info.extra = _pad_extra(zf.fp.tell(), full)
            view = memoryview(data).cast("B")
            info.file_size = view.nbytes
            with zf.open(info, "w", force_zip64=view.nbytes >= zipfile.ZIP64_LIMIT) as out:
                out.write(view)

        record("data.pkl", pickled)
        record(".format_version", b"1")
        record(".storage_alignment", str(_ALIGNMENT).encode())
        record("byteorder", sys.byteorder.encode())
        for key, root, _ in storages.values():
            record(f"data/{key}", root.reshape(-1))
        record("version", _FILE_FORMAT_VERSION)
        record(".data/serialization_id", str(int.from_bytes(os.urandom(16), "little")).zfill(40)[:40].encode())


def save(obj, f, pickle_module=None, pickle_protocol=DEFAULT_PROTOCOL, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Save ``obj`` to a path or binary file in PyTorch's checkpoint format (``torch.save``)."""
    if pickle_module is not None and pickle_module is not pickle:
        raise NotImplementedError("save: pickle_module other than the standard pickle is not supported")
    if not _use_new_zipfile_serialization:
        raise NotImplementedError("save: _use_new_zipfile_serialization=False (the legacy format) is not supported")
    if _disable_byteorder_record:
        raise NotImplementedError("save: _disable_byteorder_record=True is not supported")
    buf = io.BytesIO()
    pickler = _SavePickler(buf, pickle_protocol)
    pickler.dump(obj)  # fails before any file is touched if obj cannot be pickled
    if not isinstance(f, (str, os.PathLike)):
        _write_archive(f, "archive", buf.getbuffer(), pickler.storages)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.splitext(os.path.basename(path))[0] or "archive"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_archive(fh, name, buf.getbuffer(), pickler.storages)
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _new_file_mode(path):
    """The mode an ordinary ``open(path, 'wb')`` would give (mkstemp makes private files)."""
    with contextlib.suppress(OSError):
        return os.stat(path).st_mode & 0o777
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------
class _StorageType:
    """What ``torch.FloatStorage`` and friends unpickle to: the element dtype of a storage."""

    def __init__(self, dtype):
        self.dtype = dtype


class _LoadedStorage:
    def __init__(self, array, dtype, location):
        self.array, self.dtype, self.location = array, dtype, location
        self.version = VersionCounter()
        self.device = None  # set by the loader from map_location


def _place(t, storage):
    t._vc = storage.version
    if storage.device is not None and storage.device.type != "cpu":
        t = t.to(storage.device)
    return t


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    """A tensor viewing ``storage`` (PyTorch's ``torch._utils._rebuild_tensor_v2``)."""
    arr = storage.array
    item = arr.itemsize
    size, stride = tuple(size), tuple(stride)
    if all(size):
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if storage_offset < 0 or last >= arr.size or any(s < 0 for s in stride):
            raise RuntimeError(f"load: tensor of size {list(size)}, stride {list(stride)} and storage offset "
                               f"{storage_offset} does not fit its storage of {arr.size} elements")
        view = np.ndarray(size, arr.dtype, buffer=arr, offset=storage_offset * item,
                          strides=tuple(s * item for s in stride))
    else:
        view = np.empty(size, arr.dtype)
    t = _place(Tensor._wrap(view, storage.dtype), storage)
    t._requires_grad = bool(requires_grad)
    return t


def _rebuild_tensor_v1(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride, False, None)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    from .nn.parameter import Parameter
    return Parameter(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    param = _rebuild_parameter(data, requires_grad, backward_hooks)
    _set_state(param, state)
    return param


def _rebuild_from_type_v2(func, new_type, args, state):
    out = func(*args)
    if new_type is not type(out) and isinstance(new_type, type) and issubclass(new_type, Tensor):
        converted = object.__new__(new_type)
        Tensor._init_from(converted, out)
        out = converted
    _set_state(out, state)
    return out


def _set_state(obj, state):
    if not state:
        return
    if isinstance(state, tuple):  # (dict state, slot state)
        for part in state:
            _set_state(obj, part)
        return
    for k, v in state.items():
        setattr(obj, k, v)


def _get_layout(name):
    from . import strided
    if name != "torch.strided":
        raise NotImplementedError(f"load: tensor layout {name} is not supported (only torch.strided)")
    return strided


def _torch_globals():
    """What each ``torch.*`` global in a checkpoint means here."""
    from . import nn
    table = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor_v1,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
        ("torch.serialization", "_get_layout"): _get_layout,
        ("torch", "Size"): Size,
        ("torch", "device"): _device_cls,
        ("torch", "Tensor"): Tensor,
        ("torch._tensor", "Tensor"): Tensor,
        ("torch.nn.parameter", "Parameter"): nn.Parameter,
        ("torch.storage", "UntypedStorage"): _StorageType(_dtype.uint8),
        ("torch", "UntypedStorage"): _StorageType(_dtype.uint8),
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("collections", "Counter"): collections.Counter,
        ("_codecs", "encode"): __import__("codecs").encode,
        ("builtins", "bytearray"): bytearray,
        ("builtins", "set"): set,
        ("builtins", "complex"): complex,
    }
    for name, storage in _STORAGE_NAMES.items():
        table[("torch", storage)] = _StorageType(_dtype._BY_NAME[name])
    for d in _dtype.ALL:
        table[("torch", d.name)] = d
    return table


_safe_globals = {}


def add_safe_globals(safe_globals):
    """Allow these classes/functions (or ``(obj, "module.name")`` pairs) in ``load(weights_only=True)``."""
    for entry in safe_globals:
        obj, name = entry if isinstance(entry, tuple) else (entry, f"{entry.__module__}.{entry.__qualname__}")
        module, _, attr = name.rpartition(".")
        _safe_globals[(module, attr)] = obj


def get_safe_globals():
    """The user-allowed globals for weights-only loading."""
    return list(_safe_globals.values())


def clear_safe_globals():
    """Forget every global allowed with :func:`add_safe_globals`."""
    _safe_globals.clear()


@contextlib.contextmanager
def safe_globals(globals_list):
    """Allow these globals in weights-only loading inside the ``with`` block."""
    saved = dict(_safe_globals)
    add_safe_globals(globals_list)
    try:
        yield
    finally:
        _safe_globals.clear()
        _safe_globals.update(saved)


_WEIGHTS_ONLY_HELP = (
    "Weights only load failed. This file can still be loaded, to do so you have two options, do those steps only "
    "if you trust the source of the checkpoint.\n\t(1) Re-running `load` with `weights_only` set to `False` will "
    "likely succeed, but it can result in arbitrary code execution. Do it only if you got the file from a trusted "
    "source.\n\t(2) Alternatively, to load with `weights_only=True` please check the recommended steps in the "
    "following error message.\n\tWeightsUnpickler error: ")


class _LoadUnpickler(pickle.Unpickler):
    def __init__(self, file, zf, prefix, weights_only, map_location, byteorder):
        super().__init__(file)
        self._zf, self._prefix, self._weights_only = zf, prefix, weights_only
        self._map_location, self._byteorder = map_location, byteorder
        self._storages = {}
        self._table = _torch_globals()

    def find_class(self, module, name):
        # Protocol-2 pickles name Python 2 modules (``__builtin__``); the base class maps them inside find_class.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found = self._table.get((module, name))
        if found is None:
            found = _safe_globals.get((module, name))
        if found is not None:
            return found
        if self._weights_only:
            raise pickle.UnpicklingError(
                _WEIGHTS_ONLY_HELP + f"Unsupported global: GLOBAL {module}.{name} was not an allowed global by "
                f"default. Please use `framework.serialization.add_safe_globals([{name}])` or the "
                f"`framework.serialization.safe_globals([{name}])` context manager to allowlist this global if you "
                "trust this class/function.")
        if module == "torch" or module.startswith("torch."):
            return _framework_attr(module, name)
        return super().find_class(module, name)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"load: unsupported persistent id {pid!r}")
        _, storage_type, key, location, numel = pid
        if key not in self._storages:
            self._storages[key] = self._read_storage(storage_type, key, location)
        return self._storages[key]

    def _read_storage(self, storage_type, key, location):
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"load: storage of unsupported type {storage_type!r}")
        dtype = storage_type.dtype
        name = f"{self._prefix}data/{key}"
        nbytes = self._zf.getinfo(name).file_size
        arr = np.empty(nbytes // dtype.np.itemsize, dtype.np)
        with self._zf.open(name) as fh:
            fh.readinto(memoryview(arr).cast("B"))
        if self._byteorder != sys.byteorder and arr.itemsize > 1:
            arr.byteswap(inplace=True)
        storage = _LoadedStorage(arr, dtype, location)
        storage.device = _map_device(self._map_location, storage, location)
        return storage


def _framework_attr(module, name):
    """``torch.a.b.Name`` as ``framework.a.b.Name`` for full (weights_only=False) unpickling."""
    target = "framework" + module[len("torch"):]
    try:
        return getattr(importlib.import_module(target), name)
    except (ImportError, AttributeError):
        raise pickle.UnpicklingError(f"load: {module}.{name} is not supported yet by framework "
                                     f"(looked for {target}.{name})") from None


def _map_device(map_location, storage, location):
    """The device a storage saved at ``location`` goes to."""
    if callable(map_location) and not isinstance(map_location, (str, _device_cls)):
        out = map_location(storage, location)
        if out is None or out is storage:
            return _device_cls("cpu") if out is storage else _default_device(location)
        return _device_cls(out)
    if isinstance(map_location, dict):
        target = map_location.get(location, location)
        return _default_device(target) if isinstance(target, str) else _device_cls(target)
    if map_location is not None:
        return _device_cls(map_location)
    return _default_device(location)


def _default_device(location):
    dev = _device_cls(location)
    if dev.type == "cuda":
        from . import cuda
        if not cuda.is_available():
            raise RuntimeError("Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is "
                               "False. If you are running on a CPU-only machine, please use torch.load with "
                               "map_location=torch.device('cpu') to map your storages to the CPU.")
    return dev


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args):
    """Load an object saved with :func:`save` or ``torch.save`` (``torch.load``); weights-only by default."""
    if pickle_module is not None and pickle_module is not pickle:
        raise NotImplementedError("load: pickle_module other than the standard pickle is not supported")
    if mmap:
        raise NotImplementedError("load: mmap=True is not supported")
    if pickle_load_args:
        raise NotImplementedError(f"load: pickle load arguments {sorted(pickle_load_args)} are not supported")
    if weights_only is None:
        weights_only = True
    with contextlib.ExitStack() as stack:
        if isinstance(f, (str, os.PathLike)):
            f = stack.enter_context(open(f, "rb"))
        if not zipfile.is_zipfile(f):
            raise NotImplementedError("load: only the zip checkpoint format (torch.save since PyTorch 1.6) is "
                                      "supported, not the legacy format")
        f.seek(0)
        zf = stack.enter_context(zipfile.ZipFile(f))
        pkl = next((n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") == 1), None)
        if pkl is None:
            raise RuntimeError("load: the archive has no data.pkl record: not a PyTorch checkpoint")
        prefix = pkl[:-len("data.pkl")]
        byteorder = zf.read(prefix + "byteorder").decode() if prefix + "byteorder" in zf.namelist() else "little"
        unpickler = _LoadUnpickler(io.BytesIO(zf.read(pkl)), zf, prefix, weights_only, map_location, byteorder)
        return unpickler.load()


# ----------------------------------------------------------------------------------------------
# safetensors
# ----------------------------------------------------------------------------------------------
def _safetensors_numpy():
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError("save_safetensors/load_safetensors need the 'safetensors' package: "
                          "pip install safetensors") from None
    return safetensors.numpy


def save_safetensors(tensors, path, metadata=None):
    """Write a dict of name -> tensor to a ``.safetensors`` file (bfloat16 kept as bfloat16)."""
    st = _safetensors_numpy()
    arrays, bf16 = {}, []
    for name, t in tensors.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"save_safetensors: value for {name!r} is {type(t).__name__}, not a Tensor")
        arrays[name] = np.ascontiguousarray(t.to("cpu")._data if t._device.type != "cpu" else t._data)
        if t.dtype is _dtype.bfloat16:
            bf16.append(name)
    raw = st.save(arrays, metadata=metadata)
    with open(path, "wb") as fh:
        fh.write(_retag(raw, bf16, "U16", "BF16"))


def load_safetensors(path, device="cpu"):
    """Read a ``.safetensors`` file into a dict of name -> tensor."""
    st = _safetensors_numpy()
    with open(path, "rb") as fh:
        raw = fh.read()
    header = _header(raw)[0]
    bf16 = [k for k, v in header.items() if k != "__metadata__" and v["dtype"] == "BF16"]
    arrays = st.load(_retag(raw, bf16, "BF16", "U16"))  # the numpy API has no bfloat16: read its bits as uint16
    out = {}
    for name, arr in arrays.items():
        dtype = _dtype.bfloat16 if name in bf16 else _dtype.from_numpy(arr.dtype)
        t = Tensor._wrap(np.array(arr), dtype)
        out[name] = t if _device_cls(device).type == "cpu" else t.to(device)
    return out


def _header(raw):
    import json
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), 8 + n


def _retag(raw, names, old, new):
    """``raw`` (a safetensors file) with the dtype tag of ``names`` changed between same-width types."""
    import json
    if not names:
        return raw
    header, data_start = _header(raw)
    for name in names:
        if header[name]["dtype"] != old:
            raise ValueError(f"safetensors: {name} has dtype {header[name]['dtype']}, expected {old}")
        header[name]["dtype"] = new
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # data offsets are relative to the data section, so only alignment matters
    return struct.pack("<Q", len(text)) + text + raw[data_start:]
