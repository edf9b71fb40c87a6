"""The graph IR of graph mode: typed SSA values and nodes in one straight-line program.

A ``Graph`` has inputs (arguments, parameters, buffers, optimizer state), constants (arrays the trace
froze), nodes in execution order and outputs. Each ``Node`` calls one backend kernel by name on its input
values with keyword attributes, the same call ``framework.ops.registry.dispatch`` makes in eager mode, so
a node means exactly what the eager op meant. Nodes that write into an input's memory (in-place copies,
optimizer updates, random generators' state) list those inputs in ``mutates``; passes treat them as
barriers: passes never drop them, nor swap two that touch the same memory.
"""
import numpy as np

__all__ = ["Value", "Node", "Graph"]

_SHORT_DTYPE = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64", "int8": "i8",
                "uint8": "u8", "int16": "i16", "int32": "i32", "int64": "i64", "bool": "b8"}


class Value:
    """One SSA value: a graph input, a constant or a node's output, with its shape, dtype and device.

    ``kind`` is "input", "const" or "node"; ``role`` says what an input is bound to ("arg", "param",
    "buffer", "state", "grad", ...) and ``name`` how the user knows it (``fc1.weight``, ``x``).
    """

    __slots__ = ("id", "shape", "dtype", "device", "kind", "role", "name", "node", "index")

    def __init__(self, id, shape, dtype, device, kind, role=None, name=None, node=None, index=0):
        self.id, self.shape, self.dtype, self.device = id, tuple(shape), dtype, device
        self.kind, self.role, self.name, self.node, self.index = kind, role, name, node, index

    @property
    def type_str(self):
        """``f32[32, 784]`` (with ``@npu`` when not on the CPU)."""
        dims = ", ".join(str(d) for d in self.shape)
        where = "" if self.device is None or self.device.type == "cpu" else f"@{self.device}"
        return f"{_SHORT_DTYPE.get(self.dtype.name, self.dtype.name)}[{dims}]{where}"

    @property
    def nbytes(self):
        """Bytes this value's buffer holds."""
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def __repr__(self):
        return f"%{self.id}"


class Node:
    """One kernel call: ``op`` (the registry op name), the backend ``kernel`` name, input values,
    keyword ``attrs``, output values, the user's ``location`` ("file.py:12") and the indices of inputs
    it writes in place (``mutates``)."""

    __slots__ = ("op", "kernel", "inputs", "attrs", "outputs", "location", "mutates", "dynamic")

    def __init__(self, op, kernel, inputs, attrs, location=None, mutates=()):
        self.op, self.kernel, self.inputs = op, kernel, list(inputs)
        self.attrs = dict(attrs) if attrs else {}
        self.outputs, self.location, self.mutates = [], location, tuple(mutates)
        # attrs re-read at each call (an optimizer's lr and step count): name -> zero-argument getter;
        # ``attrs`` keeps the traced values, which the reference interpreter uses
        self.dynamic = None

    @property
    def has_effect(self):
        """True when the node writes memory it does not own (it may not be dropped or reordered)."""
        return bool(self.mutates)

    def __repr__(self):
        return f"Node({self.op}, {self.inputs} -> {self.outputs})"


class Graph:
    """A straight-line program of ``Node``s over SSA ``Value``s."""

    def __init__(self, name="graph"):
        self.name = name
        self.inputs, self.nodes, self.outputs = [], [], []
        self.constants = {}  # Value -> numpy array
        self._next_id = 0

    def _value(self, shape, dtype, device, kind, **kw):
        value = Value(self._next_id, shape, dtype, device, kind, **kw)
        self._next_id += 1
        return value

    def add_input(self, shape, dtype, device, role="arg", name=None):
        """A new graph input bound at call time."""
        value = self._value(shape, dtype, device, "input", role=role, name=name)
        self.inputs.append(value)
        return value

    def add_constant(self, array, dtype, device, name=None):
        """A constant value holding ``array`` (the trace froze it)."""
        value = self._value(array.shape, dtype, device, "const", name=name)
        self.constants[value] = array
        return value

    def add_node(self, op, inputs, attrs, out_types, kernel=None, location=None, mutates=()):
        """Append a node calling ``kernel`` (default: ``op``); ``out_types`` is a list of (shape, dtype, device)."""
        node = Node(op, kernel or op, inputs, attrs, location, mutates)
        node.outputs = [self._value(shape, dtype, device, "node", node=node, index=i)
                        for i, (shape, dtype, device) in enumerate(out_types)]
        self.nodes.append(node)
        return node

    def users(self):
        """Value -> list of nodes reading it."""
        found = {}
        for node in self.nodes:
            for value in node.inputs:
                found.setdefault(value, []).append(node)
        return found

    def verify(self):
        """Check SSA form: every input of a node is defined before it; outputs are defined values."""
        defined = set(self.inputs) | set(self.constants)
        for node in self.nodes:
            for value in node.inputs:
                if value not in defined:
                    raise ValueError(f"{node.op} reads {value!r} before it is defined")
            defined.update(node.outputs)
        for value in self.outputs:
            if value not in defined:
                raise ValueError(f"graph output {value!r} is never defined")

    # ----- printing ------------------------------------------------------------------------------
    def __str__(self):
        def describe(value):
            extra = f" {value.role}" if value.role not in (None, "arg") else ""
            label = f" '{value.name}'" if value.name else ""
            return f"%{value.id}: {value.type_str}{extra}{label}"

        lines = [f"{self.name}(" + ", ".join(describe(v) for v in self.inputs) + "):"]
        for value, array in self.constants.items():
            shown = np.array2string(array, threshold=6, separator=", ") if array.size <= 6 else "..."
            lines.append(f"  %{value.id}: {value.type_str} = constant {shown}".rstrip())
        for node in self.nodes:
            outs = ", ".join(f"%{v.id}: {v.type_str}" for v in node.outputs) or "()"
            args = ", ".join(repr(v) for v in node.inputs)
            attrs = ", ".join(f"{k}={_attr_str(a)}" for k, a in node.attrs.items())
            call = f"{node.op}({args}{', ' if args and attrs else ''}{attrs})"
            effect = f"  !writes {', '.join(repr(node.inputs[i]) for i in node.mutates)}" if node.mutates else ""
            where = f"  # {node.location}" if node.location else ""
            lines.append(f"  {outs} = {call}{effect}{where}")
        lines.append("  return (" + ", ".join(repr(v) for v in self.outputs) + ")")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle):
        """IPython and Jupyter show a graph as its text, not as an object address."""
        printer.text(str(self))

    def to_dot(self):
        """The graph in Graphviz dot syntax: one box per node, one ellipse per input or constant."""
        out = [f'digraph "{self.name}" {{', "  rankdir=TB;", '  node [fontname="monospace"];']
        for value in self.inputs:
            out.append(f'  v{value.id} [shape=ellipse, label="%{value.id} {value.name or value.role}\\n'
                       f'{value.type_str}"];')
        for value in self.constants:
            out.append(f'  v{value.id} [shape=ellipse, style=dashed, label="const %{value.id}\\n{value.type_str}"];')
        position = {id(node): i for i, node in enumerate(self.nodes)}

        def source(value):
            return f"v{value.id}" if value.kind != "node" else f"n{position[id(value.node)]}"

        for i, node in enumerate(self.nodes):
            types = "\\n".join(v.type_str for v in node.outputs)
            style = ", style=filled, fillcolor=lightpink" if node.mutates else ""
            out.append(f'  n{i} [shape=box{style}, label="{node.op}\\n{types}"];')
            for value in node.inputs:
                out.append(f"  {source(value)} -> n{i};")
        for k, value in enumerate(self.outputs):
            out.append(f'  out{k} [shape=plaintext, label="output {k}"];')
            out.append(f"  {source(value)} -> out{k};")
        out.append("}")
        return "\n".join(out)


def _attr_str(value):
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, np.ndarray):
        return f"array{list(value.shape)}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
