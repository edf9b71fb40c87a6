"""Save and load compiled graphs: one zip file with the graph as JSON and every array as ``.npy``.

The file holds ``graph.json`` (format version, inputs, nodes, outputs, which inputs are call arguments),
one ``.npy`` per constant and per bound tensor (parameters, buffers, captured tensors, optimizer state, gradients,
generator state, at their values when saved), and ``manifest.json`` with the SHA-256 of every other member, so a
corrupted or truncated file is refused before anything runs. Node attributes are JSON with tagged tuples, dtypes and
arrays; nothing is pickled, so loading runs no code from the file.

A compiled training step saves what its optimizer contributes per call: each update's step count (advanced by
every call, as ``optimizer.step()`` does) and the param-group options the graph re-reads (``lr``, ``betas``, ...)
at their values when saved, plus the ``.grad`` write-backs. The loaded step owns its parameters, buffers, state
and gradients and updates them in place; ``param_groups`` / ``set_lr`` change the options (an lr scheduler of the
original program is Python code and is not saved).
"""
import hashlib
import io
import json
import zipfile

import numpy as np

from .. import _dtype
from .._device import device as _device
from .._tensor import Tensor
from ..optim.optimizer import _to_scalar
from .capture import ArgBinding, EngineBinding, GradBinding, OptimizerScalar, TensorBinding
from .executor import Executor
from .ir import Graph

__all__ = ["save", "load", "LoadedGraph"]

FORMAT = "framework.jit graph"
VERSION = 2  # 2: training steps (optimizer scalars, .grad write-backs)
READABLE = (1, 2)


# ----- save ----------------------------------------------------------------------------------------
def save(entry, path):
    """Write ``entry`` (a compiled signature: graph, bindings, output spec) to ``path``."""
    graph = entry.graph
    arrays = {}
    inputs = []
    for value, binding in zip(graph.inputs, entry.bindings):
        record = _value_record(value)
        if isinstance(binding, ArgBinding):
            if binding.path[0] != 0 or len(binding.path) != 2:
                raise NotImplementedError("saving a graph whose tensor arguments are nested or passed by keyword "
                                          "is not supported")
            record["arg"] = binding.path[1]
        elif isinstance(binding, GradBinding):
            record["grad_of"] = binding.label
            grad = binding.tensor(None)
            if grad is not None:
                record["array"] = _put(arrays, value, grad._data)
        else:
            array = binding.array() if isinstance(binding, EngineBinding) else binding.tensor(None)._data
            record["array"] = _put(arrays, value, array)
        inputs.append(record)
    optimizer = _OptimizerRecord(_param_labels(entry))
    constants = [dict(_value_record(v), array=_put(arrays, v, a)) for v, a in graph.constants.items()]
    nodes = []
    for n in graph.nodes:
        record = {"op": n.op, "kernel": n.kernel, "inputs": [v.id for v in n.inputs],
                  "attrs": {k: _encode(a, arrays, f"{n.op}.{k}") for k, a in n.attrs.items()},
                  "outputs": [_value_record(v) for v in n.outputs], "location": n.location,
                  "mutates": list(n.mutates)}
        if n.dynamic:
            record["dynamic"] = {name: optimizer.add(name, getter, n.op) for name, getter in n.dynamic.items()}
        nodes.append(record)
    leaves = []
    for _, kind, x in entry.spec:
        leaves.append({"output": x} if kind == "value" else {"python": _encode(x, arrays, "a returned value")})
    writebacks = [[optimizer.label(param, "its .grad is written"), position] for param, position in entry.writebacks]
    doc = {"format": FORMAT, "version": VERSION, "name": graph.name, "inputs": inputs, "constants": constants,
           "nodes": nodes, "outputs": [v.id for v in graph.outputs], "leaves": leaves,
           "skeleton": _encode_skeleton(entry.skeleton), "param_groups": optimizer.groups,
           "steps": optimizer.steps, "writebacks": writebacks}
    members = {"graph.json": json.dumps(doc).encode()}
    for name, array in arrays.items():
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=False)  # np.save keeps 0-d arrays 0-d (ascontiguousarray would not)
        members[name] = buf.getvalue()
    manifest = {"format": FORMAT, "version": VERSION,
                "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for name, data in members.items():
            zf.writestr(name, data)


def _param_labels(entry):
    """id(parameter) -> the name its graph input carries, for every tensor bound by reference."""
    labels = {}
    for value, binding in zip(entry.graph.inputs, entry.bindings):
        if isinstance(binding, TensorBinding):
            labels.setdefault(id(binding.ref), value.name or binding.label)
        elif isinstance(binding, GradBinding):
            labels.setdefault(id(binding.param), binding.label)
    return labels


class _OptimizerRecord:
    """The per-call optimizer scalars of a training step, as saved: step counts and param-group options."""

    def __init__(self, labels):
        self.labels = labels
        self.groups, self.steps = [], []   # saved option dicts; [param label, steps taken] per counter
        self._groups, self._steps = {}, {}  # id(group dict) / (id(optimizer), id(param)) -> index

    def label(self, param, why):
        try:
            return self.labels[id(param)]
        except KeyError:
            raise NotImplementedError(f"cannot save this graph: a parameter of shape {list(param.shape)} is not one "
                                      f"of its inputs but {why}") from None

    def add(self, name, getter, op):
        """The file's description of ``getter`` (the per-call attribute ``name`` of node ``op``)."""
        if not isinstance(getter, OptimizerScalar):
            raise NotImplementedError(f"cannot save {op}: its attribute {name!r} is computed per call by "
                                      f"{type(getter).__name__}, which has no file encoding")
        if getter.key == "step":
            key = (id(getter.optimizer), id(getter.param))
            if key not in self._steps:
                self._steps[key] = len(self.steps)
                self.steps.append([self.label(getter.param, f"{op} counts its steps"), getter.peek()])
            return {"step": self._steps[key]}
        if id(getter.group) not in self._groups:
            self._groups[id(getter.group)] = len(self.groups)
            self.groups.append({})
        index = self._groups[id(getter.group)]
        value = getter.group[getter.key]
        self.groups[index][getter.key] = ([_to_scalar(v) for v in value] if isinstance(value, (tuple, list))
                                          else _to_scalar(value))
        return {"group": index, "key": getter.key, "index": getter.index}


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
    source of the original function needed (a saved training step trains on: see ``LoadedGraph``)."""
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
    if manifest.get("version") not in READABLE:
        raise RuntimeError(f"{path}: graph file version {manifest.get('version')} is not supported "
                           f"(this framework reads versions {list(READABLE)})")
    digests = manifest.get("sha256", {})
    if set(digests) != set(members):
        raise RuntimeError(f"{path}: corrupted graph file: members {sorted(set(members) ^ set(digests))} do not "
                           "match the manifest")
    for name, data in members.items():
        if hashlib.sha256(data).hexdigest() != digests[name]:
            raise RuntimeError(f"{path}: corrupted graph file: checksum mismatch in {name}")
    return LoadedGraph(json.loads(members["graph.json"]), members)


class LoadedGraph:
    """A graph read from a file: call it with the tensors it was traced with (same shapes and dtypes).

    A saved training step owns its parameters, buffers, optimizer state and gradients and updates them in place at
    each call: ``state_dict()`` gives the parameters and buffers by name, ``optimizer_state()`` the optimizer's
    tensors and step counts, ``grads()`` the gradients of the last call. Learning rate and the other options the
    graph re-reads start at their saved values: change them in ``param_groups`` (as on an optimizer) or with
    ``set_lr(lr)``.

    Example::

        >>> step = framework.jit.load("step.graph")   # doctest: +SKIP
        >>> step.set_lr(1e-4); loss = step(x, y)       # doctest: +SKIP
    """

    def __init__(self, doc, members):
        def array(name):
            return np.load(io.BytesIO(members[name]), allow_pickle=False)

        self.graph = Graph(doc["name"])
        values = {}

        def typed(record):
            return tuple(record["shape"]), _dtype.to_dtype(record["dtype"]), _device(record["device"])

        self._args, self._owned, self._grads = [], {}, {}
        for record in doc["inputs"]:
            shape, dtype, dev = typed(record)
            value = self.graph.add_input(shape, dtype, dev, role=record["role"], name=record["name"])
            values[record["id"]] = value
            if "arg" in record:
                self._args.append((record["arg"], value))
            elif "grad_of" in record:
                self._grads[record["grad_of"]] = array(record["array"]) if "array" in record else None
            else:
                self._owned[value] = array(record["array"])
        self._grad_inputs = {record["id"]: record["grad_of"] for record in doc["inputs"] if "grad_of" in record}
        for record in doc["constants"]:
            shape, dtype, dev = typed(record)
            values[record["id"]] = self.graph.add_constant(array(record["array"]), dtype, dev, name=record["name"])
        self.param_groups = [dict(group) for group in doc.get("param_groups", ())]
        self._steps = [list(pair) for pair in doc.get("steps", ())]
        for record in doc["nodes"]:
            attrs = {k: _decode(a, array) for k, a in record["attrs"].items()}
            node = self.graph.add_node(record["op"], [values[i] for i in record["inputs"]], attrs,
                                       [typed(o) for o in record["outputs"]], kernel=record["kernel"],
                                       location=record["location"], mutates=record["mutates"])
            if "dynamic" in record:
                node.dynamic = {name: self._getter(spec) for name, spec in record["dynamic"].items()}
            for out, rec in zip(node.outputs, record["outputs"]):
                values[rec["id"]] = out
        self.graph.outputs = [values[i] for i in doc["outputs"]]
        self.graph.verify()
        self._args.sort(key=lambda pair: pair[0])
        self._grad_inputs = {values[i]: label for i, label in self._grad_inputs.items()}
        self._writebacks = [(label, position) for label, position in doc.get("writebacks", ())]
        self._leaves = [("value", leaf["output"]) if "output" in leaf else ("python", _decode(leaf["python"], array))
                        for leaf in doc["leaves"]]
        self._skeleton = _decode_skeleton(doc["skeleton"])
        self._executor = Executor(self.graph)

    def _getter(self, spec):
        """The per-call value of an optimizer attribute described by ``spec`` in the file."""
        if "step" in spec:
            counter = self._steps[spec["step"]]

            def advance():
                counter[1] += 1.0
                return counter[1]
            return advance
        group, key, index = self.param_groups[spec["group"]], spec["key"], spec["index"]
        return lambda: group[key] if index is None else group[key][index]

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
        arrays = []
        arg_of = {id(v): i for i, v in self._args}
        for value in self.graph.inputs:
            if id(value) in arg_of:
                arrays.append(args[arg_of[id(value)]]._data)
            elif value in self._grad_inputs:
                grad = self._grads[self._grad_inputs[value]]
                if grad is None:
                    raise RuntimeError(f"{self.graph.name}: the saved step reads {value.name}, which is None "
                                       "(it was traced with a gradient there)")
                arrays.append(grad)
            else:
                arrays.append(self._owned[value])
        outs = self._executor.run(arrays)
        for label, position in self._writebacks:
            self._grads[label] = None if position is None else outs[position]
        leaves = iter(Tensor._wrap(outs[x], self.graph.outputs[x].dtype, self.graph.outputs[x].device)
                      if kind == "value" else x for kind, x in self._leaves)
        from .compile import _unflatten
        return _unflatten(self._skeleton, leaves)

    # ----- the state a saved graph owns -------------------------------------------------------------
    def _tensors(self, roles):
        return {value.name: Tensor._wrap(array, value.dtype, value.device)
                for value, array in self._owned.items() if value.role in roles}

    def state_dict(self):
        """Parameters and buffers by the names the trace gave them (``model.fc1.weight``), sharing memory."""
        return self._tensors(("param", "buffer"))

    def optimizer_state(self):
        """Optimizer state tensors (``state[model.fc1.weight].exp_avg``) and step counts (``...step``)."""
        found = {name: t for name, t in self._tensors(("state",)).items() if not name.startswith("generator.")}
        for label, count in self._steps:
            found[f"state[{label}].step"] = Tensor._wrap(np.array(count, np.float32))
        return found

    def grads(self):
        """The gradients as the last call (or the save) left them, by parameter name (None where unset)."""
        return {label: None if g is None else Tensor._wrap(g, self._grad_dtype(label)) for label, g in
                self._grads.items()}

    def _grad_dtype(self, label):
        owned = {value.name: value for value in self._owned}
        return owned[label].dtype if label in owned else None

    def set_lr(self, lr):
        """Set the learning rate of every param group the saved step reads one from."""
        groups = [group for group in self.param_groups if "lr" in group]
        if not groups:
            raise RuntimeError(f"{self.graph.name}: the saved graph reads no learning rate")
        for group in groups:
            group["lr"] = float(lr)


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
