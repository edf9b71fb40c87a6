"""Save and load compiled graphs: one zip file with the graph as JSON and every array as ``.npy``.

The file holds ``graph.json`` (format version, inputs, nodes, outputs, which inputs are call arguments),
one ``.npy`` per constant and per bound tensor (parameters, buffers, captured tensors, generator state, at
their values when saved), and ``manifest.json`` with the SHA-256 of every other member, so a corrupted or
truncated file is refused before anything runs. Node attributes are JSON with tagged tuples, dtypes and
arrays; nothing is pickled, so loading runs no code from the file. A graph that reads per-call optimizer
state (a compiled training step) is refused at save time: it only makes sense next to its optimizer.
"""
import hashlib
import io
import json
import zipfile

import numpy as np

from .. import _dtype
from .._device import device as _device
from .._tensor import Tensor
from .capture import ArgBinding, EngineBinding
from .executor import Executor
from .ir import Graph

__all__ = ["save", "load", "LoadedGraph"]

FORMAT = "framework.jit graph"
VERSION = 1


# ----- save ----------------------------------------------------------------------------------------
def save(entry, path):
    """Write ``entry`` (a compiled signature: graph, bindings, output spec) to ``path``."""
    graph = entry.graph
    if entry.writebacks or any(node.dynamic for node in graph.nodes):
        raise NotImplementedError("saving a graph that updates .grad or reads optimizer state per call (a compiled "
                                  "training step) is not supported: save the compiled model's forward instead")
    arrays = {}
    inputs = []
    for value, binding in zip(graph.inputs, entry.bindings):
        record = _value_record(value)
        if isinstance(binding, ArgBinding):
            if binding.path[0] != 0 or len(binding.path) != 2:
                raise NotImplementedError("saving a graph whose tensor arguments are nested or passed by keyword "
                                          "is not supported")
            record["arg"] = binding.path[1]
        else:
            array = binding.array() if isinstance(binding, EngineBinding) else binding.tensor(None)._data
            record["array"] = _put(arrays, value, array)
        inputs.append(record)
    constants = [dict(_value_record(v), array=_put(arrays, v, a)) for v, a in graph.constants.items()]
    nodes = [{"op": n.op, "kernel": n.kernel, "inputs": [v.id for v in n.inputs],
              "attrs": {k: _encode(a, arrays, f"{n.op}.{k}") for k, a in n.attrs.items()},
              "outputs": [_value_record(v) for v in n.outputs], "location": n.location, "mutates": list(n.mutates)}
             for n in graph.nodes]
    leaves = []
    for _, kind, x in entry.spec:
        leaves.append({"output": x} if kind == "value" else {"python": _encode(x, arrays, "a returned value")})
    doc = {"format": FORMAT, "version": VERSION, "name": graph.name, "inputs": inputs, "constants": constants,
           "nodes": nodes, "outputs": [v.id for v in graph.outputs], "leaves": leaves,
           "skeleton": _encode_skeleton(entry.skeleton)}
    members = {"graph.json": json.dumps(doc).encode()}
    for name, array in arrays.items():
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
        members[name] = buf.getvalue()
    manifest = {"format": FORMAT, "version": VERSION,
                "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for name, data in members.items():
            zf.writestr(name, data)


def _value_record(value):
    return {"id": value.id, "shape": list(value.shape), "dtype": value.dtype.name, "device": str(value.device),
            "role": value.role, "name": value.name}


def _put(arrays, value, array):
    name = f"arrays/{value.id}.npy"
    arrays[name] = array
    return name


def _encode(obj, arrays, where):
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, tuple):
        return {"tuple": [_encode(x, arrays, where) for x in obj]}
    if isinstance(obj, list):
        return [_encode(x, arrays, where) for x in obj]
    if isinstance(obj, _dtype.dtype):
        return {"dtype": obj.name}
    if isinstance(obj, np.dtype):
        return {"np_dtype": obj.str}
    if isinstance(obj, np.ndarray):
        name = f"arrays/attr{len(arrays)}.npy"
        arrays[name] = obj
        return {"ndarray": name}
    raise NotImplementedError(f"cannot save {where}: values of type {type(obj).__name__} have no file encoding")


def _encode_skeleton(skeleton):
    if skeleton is None:
        return None
    if skeleton[0] is dict:
        if not all(isinstance(k, str) for k in skeleton[1]):
            raise NotImplementedError("saving a graph that returns a dict with non-string keys is not supported")
        return {"dict": skeleton[1], "items": [_encode_skeleton(s) for s in skeleton[2]]}
    return {"list" if skeleton[0] is list else "tuple": [_encode_skeleton(s) for s in skeleton[1]]}


# ----- load ----------------------------------------------------------------------------------------
def load(path):
    """A ``LoadedGraph`` from a file written by ``.save(path)``: callable on the call arguments, no Python
    source of the original function needed."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = {name: zf.read(name) for name in zf.namelist()}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise RuntimeError(f"{path}: not a valid compiled graph file (corrupted or truncated: {exc})") from None
    try:
        manifest = json.loads(members.pop("manifest.json"))
    except (KeyError, ValueError):
        raise RuntimeError(f"{path}: not a compiled graph file (no readable manifest.json)") from None
    if manifest.get("format") != FORMAT:
        raise RuntimeError(f"{path}: not a compiled graph file (format {manifest.get('format')!r})")
    if manifest.get("version") != VERSION:
        raise RuntimeError(f"{path}: graph file version {manifest.get('version')} is not supported "
                           f"(this framework reads version {VERSION})")
    digests = manifest.get("sha256", {})
    if set(digests) != set(members):
        raise RuntimeError(f"{path}: corrupted graph file: members {sorted(set(members) ^ set(digests))} do not "
                           "match the manifest")
    for name, data in members.items():
        if hashlib.sha256(data).hexdigest() != digests[name]:
            raise RuntimeError(f"{path}: corrupted graph file: checksum mismatch in {name}")
    return LoadedGraph(json.loads(members["graph.json"]), members)


class LoadedGraph:
    """A graph read from a file: call it with the tensors it was traced with (same shapes and dtypes)."""

    def __init__(self, doc, members):
        def array(name):
            return np.load(io.BytesIO(members[name]), allow_pickle=False)

        self.graph = Graph(doc["name"])
        values = {}

        def typed(record):
            return tuple(record["shape"]), _dtype.to_dtype(record["dtype"]), _device(record["device"])

        self._args, self._owned = [], []
        for record in doc["inputs"]:
            shape, dtype, dev = typed(record)
            value = self.graph.add_input(shape, dtype, dev, role=record["role"], name=record["name"])
            values[record["id"]] = value
            if "arg" in record:
                self._args.append((record["arg"], value))
            else:
                self._owned.append(array(record["array"]))
        for record in doc["constants"]:
            shape, dtype, dev = typed(record)
            values[record["id"]] = self.graph.add_constant(array(record["array"]), dtype, dev, name=record["name"])
        for record in doc["nodes"]:
            attrs = {k: _decode(a, array) for k, a in record["attrs"].items()}
            node = self.graph.add_node(record["op"], [values[i] for i in record["inputs"]], attrs,
                                       [typed(o) for o in record["outputs"]], kernel=record["kernel"],
                                       location=record["location"], mutates=record["mutates"])
            for out, rec in zip(node.outputs, record["outputs"]):
                values[rec["id"]] = out
        self.graph.outputs = [values[i] for i in doc["outputs"]]
        self.graph.verify()
        self._args.sort(key=lambda pair: pair[0])
        self._leaves = [("value", leaf["output"]) if "output" in leaf else ("python", _decode(leaf["python"], array))
                        for leaf in doc["leaves"]]
        self._skeleton = _decode_skeleton(doc["skeleton"])
        self._executor = Executor(self.graph)

    @property
    def signature(self):
        """The argument types the graph was traced with, e.g. ``(f32[32, 784])``."""
        return "(" + ", ".join(v.type_str for _, v in self._args) + ")"

    def __call__(self, *args):
        given = "(" + ", ".join(_type_of(a) for a in args) + ")"
        if len(args) != len(self._args) or any(
                not isinstance(a, Tensor) or tuple(a._data.shape) != v.shape or a.dtype is not v.dtype
                for a, (_, v) in zip(args, self._args)):
            raise RuntimeError(f"{self.graph.name}: the saved graph expects arguments {self.signature}, "
                               f"got {given}")
        arrays, owned = [], iter(self._owned)
        arg_of = {id(v): i for i, v in self._args}
        for value in self.graph.inputs:
            arrays.append(args[arg_of[id(value)]]._data if id(value) in arg_of else next(owned))
        outs = self._executor.run(arrays)
        leaves = iter(Tensor._wrap(outs[x], self.graph.outputs[x].dtype, self.graph.outputs[x].device)
                      if kind == "value" else x for kind, x in self._leaves)
        from .compile import _unflatten
        return _unflatten(self._skeleton, leaves)


def _type_of(obj):
    if isinstance(obj, Tensor):
        return f"{_dtype_short(obj.dtype)}{list(obj.shape)}"
    return type(obj).__name__


def _dtype_short(dtype):
    from .ir import _SHORT_DTYPE
    return _SHORT_DTYPE.get(dtype.name, dtype.name)


def _decode(obj, array):
    if isinstance(obj, list):
        return [_decode(x, array) for x in obj]
    if isinstance(obj, dict):
        if "tuple" in obj:
            return tuple(_decode(x, array) for x in obj["tuple"])
        if "dtype" in obj:
            return _dtype.to_dtype(obj["dtype"])
        if "np_dtype" in obj:
            return np.dtype(obj["np_dtype"])
        if "ndarray" in obj:
            return array(obj["ndarray"])
        raise RuntimeError(f"corrupted graph file: unknown attribute encoding {sorted(obj)}")
    return obj


def _decode_skeleton(obj):
    if obj is None:
        return None
    if "dict" in obj:
        return (dict, obj["dict"], [_decode_skeleton(s) for s in obj["items"]])
    kind = "list" if "list" in obj else "tuple"
    return (list if kind == "list" else tuple, [_decode_skeleton(s) for s in obj[kind]])
