"""Capture: run a function once eagerly while the dispatcher reports every op to a ``Tracer``.

Each dispatched op becomes a ``Node``; tensors are matched to SSA values by their storage array. A tensor the
trace did not produce becomes a graph input bound *by reference* (an argument by position, a parameter, buffer,
optimizer state tensor or ``.grad`` by the live object that owns it), so a replay always reads current state.
Tensors created during the trace from Python data (``framework.tensor``, scalars made 0-d) end up owned by
nothing once the trace is over: they become constants. Writes that eager code makes outside the kernels
(in-place copies, ``.grad`` assignment, optimizer updates, random draws) are reported through small hooks
in those places and become effect nodes or write-backs.

Anything that turns a traced tensor into a Python value (``.item()``, ``bool()``, ``.tolist()``, ``.numpy()``,
printing) is a graph break: the value would be frozen into the graph. The tracer records it with the user's
file and line (or raises ``GraphBreakError`` under ``fullgraph=True``).
"""
import os
import weakref

import numpy as np

from .ir import Graph

__all__ = ["GraphBreakError", "Tracer", "OptimizerScalar", "flatten", "discover"]


class GraphBreakError(RuntimeError):
    """A function compiled with ``fullgraph=True`` did something a graph cannot hold (it names the line)."""


# ----- bindings: how a graph input is found at call time -----------------------------------------
class ArgBinding:
    """Input bound to the tensor at ``path`` in the call's (args, kwargs)."""

    __slots__ = ("path",)

    def __init__(self, path):
        self.path = path

    def tensor(self, call):
        obj = call
        for key in self.path:
            obj = obj[key]
        return obj

    def describe(self):
        return describe_path(self.path)


class TensorBinding:
    """Input bound to a live tensor object (parameter, buffer, captured global): reads its current data."""

    __slots__ = ("ref", "label")

    def __init__(self, tensor, label):
        self.ref, self.label = tensor, label

    def tensor(self, call):
        return self.ref

    def describe(self):
        return self.label


class GradBinding:
    """Input bound to ``param.grad`` as it is at call time."""

    __slots__ = ("param", "label")

    def __init__(self, param, label):
        self.param, self.label = param, label

    def tensor(self, call):
        return self.param._grad

    def describe(self):
        return f"{self.label}.grad"


class StateBinding:
    """Input bound to ``optimizer.state[param][key]`` as it is at call time."""

    __slots__ = ("optimizer", "param", "key", "label")

    def __init__(self, optimizer, param, key, label):
        self.optimizer, self.param, self.key, self.label = optimizer, param, key, label

    def tensor(self, call):
        return self.optimizer.state[self.param][self.key]

    def describe(self):
        return self.label


class EngineBinding:
    """Input bound to one state array of a random generator's engine (advanced in place by draws)."""

    __slots__ = ("engine", "field")

    def __init__(self, engine, field):
        self.engine, self.field = engine, field

    def array(self):
        return _typed(getattr(self.engine, self.field))

    def describe(self):
        return f"generator.{self.field}"


def describe_path(path):
    """``input 0`` / ``input 'x'`` / ``input 0[1]`` for a position in (args, kwargs)."""
    where, rest = path[1], path[2:]
    head = f"input {where}" if path[0] == 0 else f"input '{where}'"
    return head + "".join(f"[{k!r}]" for k in rest)


def flatten(obj, path=()):
    """(path, leaf) pairs of nested lists, tuples and dicts, in a stable order."""
    if isinstance(obj, (list, tuple)):
        return [pair for i, item in enumerate(obj) for pair in flatten(item, path + (i,))]
    if isinstance(obj, dict):
        return [pair for key in sorted(obj, key=repr) for pair in flatten(obj[key], path + (key,))]
    return [(path, obj)]


def discover(fn, call):
    """Modules and optimizers ``fn`` can reach: its arguments, ``self``, closure cells and the globals it names."""
    from ..nn.modules.module import Module
    from ..optim.optimizer import Optimizer
    found, seen = [], set()

    def visit(obj, name, depth=0):
        if id(obj) in seen:
            return
        if isinstance(obj, (Module, Optimizer)):
            seen.add(id(obj))
            found.append((name, obj))
        elif depth == 0 and isinstance(obj, (list, tuple, dict)):
            items = obj.items() if isinstance(obj, dict) else enumerate(obj)
            for key, item in items:
                visit(item, f"{name}[{key!r}]", 1)

    for path, leaf in flatten(call):
        visit(leaf, describe_path(path))
    target = fn
    while hasattr(target, "__wrapped__"):
        target = target.__wrapped__
    if hasattr(target, "__self__"):
        visit(target.__self__, "")  # a module's own call: its parameters go by their state_dict names
        target = target.__func__
    code = getattr(target, "__code__", None)
    if code is not None:
        for name, cell in zip(code.co_freevars, target.__closure__ or ()):
            try:
                visit(cell.cell_contents, name)
            except ValueError:  # an empty cell
                pass
        for name in code.co_names:
            if name in target.__globals__:
                visit(target.__globals__[name], name)
    return found


def user_location():
    """(path, line) of the user's code that is running now."""
    from ..autograd.node import user_frame
    return user_frame()


def _short(where):
    return f"{os.path.basename(where[0])}:{where[1]}"


# ----- the tracer ------------------------------------------------------------------------------------
class Tracer:
    """Builds a ``Graph`` from the ops and effects eager code reports while ``slot.tracer`` is this object."""

    def __init__(self, name, fullgraph=False):
        self.graph = Graph(name)
        self.bindings = []       # parallel to graph.inputs
        self.fullgraph = fullgraph
        self.breaks = []         # (what, (path, line))
        self._values = {}        # id(storage array) -> Value
        self._keep = []          # arrays kept alive so their ids stay unique during the trace
        self._names = {}         # id(tensor) -> (role, label, owner)
        self._weak = []          # (value, weakref to tensor, array): captured tensors that may be temporaries
        self._grad_seen = {}     # id(param) -> param: params whose .grad the trace read or wrote
        self.grad_guards = []    # (param, label, had grad at first read)
        self._grad_writes = {}   # id(param) -> (param, tensor or None)
        self.writebacks = []     # (param, output position or None), filled by finish()
        self._index_sources = {}  # id(array) -> tensor whose storage an indexing key holds (see note_index)

    # ----- naming what the function can reach -----------------------------------------------------
    def _name(self, tensor, role, label, owner):
        # the tensor itself is kept: ids of dead objects are reused by new ones
        self._names.setdefault(id(tensor), (role, label, owner, tensor))

    def _named(self, tensor):
        entry = self._names.get(id(tensor))
        return entry if entry is not None and entry[3] is tensor else None

    def name_module(self, prefix, module):
        """Remember parameter and buffer names of ``module``."""
        def label(name):
            return f"{prefix}.{name}" if prefix else name
        for name, p in module.named_parameters():
            self._name(p, "param", label(name), p)
        for name, b in module.named_buffers():
            self._name(b, "buffer", label(name), b)

    def param_label(self, p):
        entry = self._named(p)
        return entry[1] if entry is not None else f"param{list(p.shape)}"

    def add_arg(self, path, tensor, name=None):
        """Bind ``tensor`` (at ``path`` in the call) as a graph input named ``name``."""
        if id(tensor._data) in self._values:
            return
        value = self.graph.add_input(tensor.shape, tensor.dtype, tensor._device, role="arg",
                                     name=name or describe_path(path).replace("input ", ""))
        self._bind_input(value, ArgBinding(path), tensor._data)

    # ----- values ---------------------------------------------------------------------------------
    def _bind(self, array, value):
        self._values[id(array)] = value
        self._keep.append(array)

    def _bind_input(self, value, binding, array):
        self.bindings.append(binding)
        self._bind(array, value)
        return value

    def value(self, t):
        """The SSA value holding tensor ``t`` (a new bound input the first time an outside tensor is read)."""
        v = self._values.get(id(t._data))
        return v if v is not None else self._external(t)

    def _external(self, t):
        role, label, owner, _ = self._named(t) or (None, None, None, None)
        if role is None:
            from ..nn.parameter import Parameter
            role = "param" if isinstance(t, Parameter) else "captured"
        value = self.graph.add_input(t.shape, t.dtype, t._device, role=role, name=label)
        if role == "grad":
            binding = GradBinding(owner, label)
            value.name = f"{label}.grad"
        elif role == "captured":
            binding = None  # decided in finish(): a live object by reference, else a constant
            self._weak.append((value, weakref.ref(t), t._data))
        else:
            binding = TensorBinding(t, label)
        return self._bind_input(value, binding, t._data)

    # ----- hooks called by eager code -------------------------------------------------------------
    def op(self, op, inputs, attrs, outs):
        """A dispatched op: one node."""
        if op.name in DATA_SHAPED:
            self.graph_break(f"{op.name}() has an output shape that depends on tensor values")
        ins = [self.value(t) for t in inputs]
        attrs, kernel = dict(attrs) if attrs else {}, op.kernel
        if any(_holds_array(a) for a in attrs.values()):
            attrs, found = self._array_attrs(op.name, attrs)
            if found:
                ins.extend(v for _, v in found)
                attrs.update(target_kernel=kernel, array_paths=tuple(path for path, _ in found))
                kernel = "call_with_arrays"
        node = self.graph.add_node(op.name, ins, attrs, [(o._data.shape, o.dtype, o._device) for o in outs],
                                   kernel=kernel, location=_short(user_location()))
        for o, v in zip(outs, node.outputs):
            self._bind(o._data, v)

    def note_index(self, t):
        """An indexing key is about to hold ``t._data``: the node reading it takes ``t`` as an input (see ``op``)."""
        self._index_sources[id(t._data)] = t

    def _array_attrs(self, name, attrs):
        """``attrs`` with the arrays that hold tensors of the trace replaced by None, and (path, value) per array.

        An array the trace cannot trace back to a tensor is a constant (an ``arange`` of a gather key, an index
        written in Python); one that is a view of a traced tensor's storage was derived on the host: a break.
        """
        found = []

        def walk(obj, path):
            if isinstance(obj, np.ndarray):
                value = self._array_value(name, obj)
                if value is None:
                    return obj
                found.append((path, value))
                return None
            if isinstance(obj, tuple):
                return tuple(walk(item, path + (i,)) for i, item in enumerate(obj))
            return obj
        return {key: walk(a, (key,)) for key, a in attrs.items()}, found

    def _array_value(self, name, array):
        value = self._values.get(id(array))
        if value is None:
            t = self._index_sources.get(id(array))
            if t is not None and t._data is array:
                value = self.value(t)
        if value is None:
            base = array.base
            while base is not None:
                if id(base) in self._values or id(base) in self._index_sources:
                    self.graph_break(f"{name}() reads an index array derived on the host from a traced tensor")
                    return None
                base = base.base
            return None
        if value.dtype.name == "bool" and name == "index":
            self.graph_break("indexing with a boolean mask tensor has an output shape that depends on its values")
        return value

    def write(self, target, source):
        """``target``'s memory is overwritten with ``source`` (``copy_``, in-place ops)."""
        from .. import _dtype
        if target.dtype is _dtype.bfloat16 or source.dtype is _dtype.bfloat16:
            self.graph_break("an in-place write of a bfloat16 tensor (graph mode keeps bfloat16 as float32 values "
                             "in kernels, so it cannot write bfloat16 storage in place)")
        dst, src = self.value(target), self.value(source)
        self.graph.add_node("copy_", [dst, src], {}, [], kernel="copy_into", location=_short(user_location()),
                            mutates=(0,))

    def cast(self, t, out):
        """``out`` is ``t`` converted to another dtype outside dispatch."""
        node = self.graph.add_node("_to_copy", [self.value(t)], {"dtype": out.dtype.name},
                                   [(out._data.shape, out.dtype, out._device)], kernel="cast_to",
                                   location=_short(user_location()))
        self._bind(out._data, node.outputs[0])

    def grad_read(self, param):
        """``param.grad`` is about to be read: guard whether it exists, bind it if the trace did not make it."""
        if id(param) in self._grad_seen:
            return
        self._grad_seen[id(param)] = param
        grad = param._grad
        label = self.param_label(param)
        self.grad_guards.append((param, label, grad is not None))
        if grad is not None and id(grad._data) not in self._values:
            self._name(grad, "grad", label, param)  # bound to param.grad if an op reads it

    def grad_written(self, param):
        """``param.grad`` was set (to a new tensor or None): a write-back after each replay."""
        self._grad_seen.setdefault(id(param), param)
        self._grad_writes[id(param)] = (param, param._grad)

    def optimizer_kernel(self, optimizer, p, name, kernel):
        """A recorder standing in for ``kernel`` (an optimizer update writing param and state in place)."""
        return lambda *arrays, **attrs: self._optimizer_call(optimizer, p, name, kernel, arrays, attrs)

    def _optimizer_call(self, optimizer, p, name, kernel, arrays, attrs):
        self.grad_read(p)
        label = self.param_label(p)
        state = optimizer.state.get(p, {})
        owners = {id(p._data): p}
        for key, t in state.items():
            if hasattr(t, "_data") and id(t._data) not in self._values:
                owners[id(t._data)] = t
                self._name(t, "state", f"state[{label}].{key}", (optimizer, p, key))
        ins, absent = [], []
        for i, a in enumerate(arrays):
            if a is None:
                absent.append(i)
                continue
            v = self._values.get(id(a))
            if v is None:
                v = self._state_input(owners.get(id(a)), a, name)
            ins.append(v)
        kernel(*arrays, **attrs)
        node_attrs = dict(attrs)
        kernel_name = name
        if absent:
            node_attrs.update(target=name, absent=tuple(absent))
            kernel_name = "call_absent"
        node = self.graph.add_node(name, ins, node_attrs, [], kernel=kernel_name, location=_short(user_location()),
                                   mutates=tuple(range(1, len(ins))))
        node.dynamic = _optimizer_dynamic(optimizer, p, attrs)

    def _state_input(self, tensor, array, name):
        if tensor is None:
            raise GraphBreakError(f"{name} was given an array graph mode cannot bind")
        role, label, owner, _ = self._named(tensor) or ("param", self.param_label(tensor), None, None)
        value = self.graph.add_input(tensor.shape, tensor.dtype, tensor._device, role=role, name=label)
        binding = StateBinding(*owner, label) if role == "state" else TensorBinding(tensor, label)
        return self._bind_input(value, binding, array)

    def random_fill(self, tensor, engine, op, method, args):
        """``tensor`` is filled in place with ``kernels.cpu.mt19937.<method>`` draws from ``engine``."""
        from kernels.cpu.graph import mt_draw
        fields = ("mt", "pos", "normal_cache", "float_cache")
        state = []
        for field in fields:
            array = getattr(engine, field)
            v = self._values.get(id(array))
            if v is None:
                v = self.graph.add_input(array.shape, _numpy_dtype(_typed(array)), tensor._device, role="state",
                                         name=f"generator.{field}")
                self._bind_input(v, EngineBinding(engine, field), array)
            state.append(v)
        attrs = {"method": method, "args": tuple(args), "shape": tuple(tensor._data.shape)}
        node = self.graph.add_node(op, state, attrs, [(tensor._data.shape, tensor.dtype, tensor._device)],
                                   kernel="mt_draw", location=_short(user_location()), mutates=(0, 1, 2, 3))
        values = mt_draw(*(getattr(engine, f) for f in fields), **attrs)
        known = id(tensor._data) in self._values
        if known:
            self.graph.add_node("copy_", [self._values[id(tensor._data)], node.outputs[0]], {}, [],
                                kernel="copy_into", location=node.location, mutates=(0,))
        tensor._data[...] = values
        tensor._bump_version()
        if not known:
            self._bind(tensor._data, node.outputs[0])
        return tensor

    def graph_break(self, what):
        """Python reads a traced tensor's values (``what``): the graph cannot hold that."""
        where = user_location()
        if self.fullgraph:
            raise GraphBreakError(f"graph break at {where[0]}:{where[1]}: {what}. A graph cannot hold Python "
                                  "values computed from tensors; remove it from the compiled function or compile "
                                  "without fullgraph=True (that signature then runs eagerly).")
        self.breaks.append((what, where))

    # ----- the end of the trace -------------------------------------------------------------------
    def finish(self, outputs):
        """Set the graph's outputs (the tensors in ``outputs``, then ``.grad`` write-backs); return the output spec.

        The spec lists, per leaf of ``outputs``, ("value", position in graph.outputs) or ("python", leaf).
        """
        from .._tensor import Tensor
        spec = []
        for path, leaf in flatten(outputs):
            if isinstance(leaf, Tensor):
                spec.append((path, "value", self._output(self.value(leaf))))
            else:
                spec.append((path, "python", leaf))
        for param, grad in self._grad_writes.values():
            if grad is None:
                self.writebacks.append((param, None))
                continue
            value = self.value(grad)
            if value.kind == "input" and value.role == "grad" and self.bindings[self.graph.inputs.index(value)] \
                    .param is param:
                continue  # updated in place in the buffer it was read from
            self.writebacks.append((param, self._output(value)))
        self._index_sources.clear()  # before settling: holding an index tensor would keep a temporary alive
        self._settle_captured()
        self._values.clear()
        self._keep.clear()
        return spec

    def _output(self, value):
        self.graph.outputs.append(value)
        return len(self.graph.outputs) - 1

    def _settle_captured(self):
        """Captured tensors nothing else holds any more were temporaries of the trace: make them constants."""
        for value, ref, array in self._weak:
            tensor = ref()
            position = self.graph.inputs.index(value)
            if tensor is None:
                del self.graph.inputs[position], self.bindings[position]
                value.kind, value.role = "const", None
                self.graph.constants[value] = array
            else:
                self.bindings[position] = TensorBinding(tensor, value.name or f"captured %{value.id}")


# dispatched ops whose output shape depends on input values: a graph fixes every shape
DATA_SHAPED = frozenset({"nonzero", "unique", "unique_consecutive"})


def _holds_array(obj):
    if isinstance(obj, np.ndarray):
        return True
    return isinstance(obj, tuple) and any(_holds_array(item) for item in obj)


def _typed(array):
    """The MT19937 words (uint32, which has no framework dtype) seen as int32; the draw kernel views them back."""
    return array.view(np.int32) if array.dtype == np.uint32 else array


def _numpy_dtype(array):
    from .. import _dtype
    return _dtype.from_numpy(array.dtype)


# optimizer attributes re-read at each call instead of frozen: (group key, index in it or None)
_GROUP_ATTRS = {"beta1": ("betas", 0), "beta2": ("betas", 1)}


class OptimizerScalar:
    """A per-call attribute of an optimizer update, re-read at each replay: the parameter's step count (advanced by
    the call, as eager ``step()`` does) or an option of its param group (``lr``, ``betas[0]``, ...), so schedulers
    and lr changes apply. Saving a training step reads ``peek()``, which advances nothing."""

    __slots__ = ("optimizer", "param", "group", "key", "index")

    def __init__(self, optimizer, param, group, key, index=None):
        self.optimizer, self.param, self.group, self.key, self.index = optimizer, param, group, key, index

    def __call__(self):
        if self.key == "step":
            return _advance(self.optimizer.state[self.param]["step"])
        value = self.group[self.key]
        if self.index is not None:
            value = value[self.index]
        return value if type(value) is float else _optimizer_scalar(value)  # a replay reads ~6 per parameter

    def peek(self):
        """The value now: the steps taken so far, or the group option."""
        if self.key == "step":
            return float(self.optimizer.state[self.param]["step"]._data)
        value = self.group[self.key]
        return _optimizer_scalar(value if self.index is None else value[self.index])


_LAZY = {}  # functions of modules that import this one, found on first use (an import statement per call costs ~2 us)


def _advance(step):
    advance = _LAZY.get("advance")
    if advance is None:
        from ..optim._state import advance
        _LAZY["advance"] = advance
    return advance(step)


def _optimizer_scalar(value):
    from ..optim.optimizer import _to_scalar
    return _to_scalar(value)


def _optimizer_dynamic(optimizer, p, attrs):
    """name -> ``OptimizerScalar`` for the attrs of an optimizer update that change between steps (lr, step, ...)."""
    group = next(g for g in optimizer.param_groups if any(q is p for q in g["params"]))
    dynamic = {}
    for name, traced in attrs.items():
        if name == "step":
            dynamic[name] = OptimizerScalar(optimizer, p, group, "step")
        elif name in _GROUP_ATTRS:
            dynamic[name] = OptimizerScalar(optimizer, p, group, *_GROUP_ATTRS[name])
        elif name in group and isinstance(traced, float):
            dynamic[name] = OptimizerScalar(optimizer, p, group, name)
    return dynamic or None
