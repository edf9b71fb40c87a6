"""framework.onnx.export: files checked by onnx and run in onnxruntime against our eager outputs."""
import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import framework as torch  # noqa: E402
import framework.nn as nn  # noqa: E402
from _export_models import MODELS, eager_outputs, zoo_models  # noqa: E402


def run_onnx(source, args):
    """Outputs of the ONNX model (a path or bytes) in onnxruntime on ``args`` (framework tensors)."""
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: a.numpy() for i, a in zip(session.get_inputs(), args)})


def assert_matches(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_run_in_onnxruntime(name, tmp_path):
    model, args = MODELS[name]()
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, args, str(path))
    onnx.checker.check_model(onnx.load(str(path)))
    assert_matches(run_onnx(str(path), args), eager_outputs(model, args))


@pytest.mark.parametrize("name", sorted(zoo_models()))
def test_zoo_models_run_in_onnxruntime(name, tmp_path):
    model, args = zoo_models()[name]()
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, args, path)
    assert_matches(run_onnx(str(path), args), eager_outputs(model, args))


@pytest.mark.parametrize("name", sorted(zoo_models()))
def test_zoo_models_export_with_a_free_batch(name, tmp_path):
    # every zoo family: a batch-1 example (the size-1 case) exported with a free batch, run at batch 3
    model, args = zoo_models()[name]()
    example = tuple(a[:1] for a in args)
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, example, path, input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    wider = tuple(torch.randn(3, *a.shape[1:]) if a.is_floating_point() else torch.randint(0, 50, (3, *a.shape[1:]))
                  for a in args)  # the zoo's small text models have 50 tokens
    assert_matches(run_onnx(str(path), wider), eager_outputs(model, wider))


def test_initializers_carry_state_dict_names_and_inputs_outputs_are_named():
    model, args = MODELS["lenet"]()
    buffer = io.BytesIO()
    proto = torch.onnx.export(model, args, buffer, input_names=["image"], output_names=["log_probs"])
    loaded = onnx.load_from_string(buffer.getvalue())
    assert loaded == proto
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in loaded.graph.initializer}
    for key, value in model.state_dict().items():
        if "num_batches_tracked" not in key:
            np.testing.assert_array_equal(inits[key], value.numpy())
    assert [i.name for i in loaded.graph.input] == ["image"]
    assert [o.name for o in loaded.graph.output] == ["log_probs"]
    assert list(loaded.graph.input[0].type.tensor_type.shape.dim[k].dim_value for k in range(4)) == [2, 1, 30, 30]


def test_training_flag_restored_and_dropout_is_identity(tmp_path):
    model, args = MODELS["mlp"]()
    model.train()
    path = tmp_path / "m.onnx"
    torch.onnx.export(model, args, str(path))
    assert model.training
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "Dropout" not in ops and "RandomUniformLike" not in ops
    assert_matches(run_onnx(str(path), args), eager_outputs(model, args))


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_opsets(opset, tmp_path):
    model, args = MODELS["encoder"]()
    proto = torch.onnx.export(model, args, tmp_path / "e.onnx", opset_version=opset)
    assert proto.opset_import[0].version == opset
    assert_matches(run_onnx(str(tmp_path / "e.onnx"), args), eager_outputs(model, args))


def test_export_params_false_makes_parameters_inputs(tmp_path):
    model, args = MODELS["mlp"]()
    proto = torch.onnx.export(model, args, None, export_params=False)
    assert len(proto.graph.initializer) < len(model.state_dict())
    names = [i.name for i in proto.graph.input]
    assert names[0] == "input_0" and "0.weight" in names and "5.bias" in names
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"input_0": args[0].numpy(), **{k: v.numpy() for k, v in model.state_dict().items()}}
    got = session.run(None, {k: v for k, v in feeds.items() if k in names})
    assert_matches(got, eager_outputs(model, args))


def test_without_constant_folding_and_verify(tmp_path):
    model, args = MODELS["resblock"]()
    proto = torch.onnx.export(model, args, tmp_path / "r.onnx", do_constant_folding=False, verify=True)
    assert len(proto.graph.output) == 2


def test_node_doc_strings_name_user_lines():
    model, args = MODELS["mlp"]()
    proto = torch.onnx.export(model, args)
    # framework frames are skipped: an nn.Sequential's ops point at the line that called the model (the export)
    computed = [n for n in proto.graph.node if n.op_type != "Identity"]
    assert computed and all(n.doc_string.startswith("test_onnx_export.py:") for n in computed)
    model, args = MODELS["encoder"]()
    proto = torch.onnx.export(model, args)
    assert any(n.doc_string.startswith("_export_models.py:3") for n in proto.graph.node)


def test_unsupported_op_is_named(tmp_path):
    class Cumulative(nn.Module):
        def forward(self, x):
            return x.cumsum(0)

    with pytest.raises(NotImplementedError, match="op 'cumsum'.*test_onnx_export.py"):
        torch.onnx.export(Cumulative(), (torch.randn(3),), tmp_path / "c.onnx")
    assert not (tmp_path / "c.onnx").exists()


def test_missing_directory_is_a_clear_error(tmp_path):
    model, args = MODELS["mlp"]()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        torch.onnx.export(model, args, tmp_path / "no" / "such" / "m.onnx")


@pytest.mark.parametrize("kwargs, match", [
    ({"dynamic_shapes": {"x": {0: "batch"}}}, "dynamic_shapes"),
    ({"custom_opsets": {"x": 1}}, "custom_opsets"),
    ({"training": torch.onnx.TrainingMode.TRAINING}, "training"),
])
def test_unsupported_arguments_are_refused_by_name(kwargs, match, tmp_path):
    model, args = MODELS["mlp"]()
    with pytest.raises(NotImplementedError, match=match):
        torch.onnx.export(model, args, tmp_path / "m.onnx", **kwargs)


def test_bad_opset_and_names():
    model, args = MODELS["mlp"]()
    with pytest.raises(ValueError, match="opset_version"):
        torch.onnx.export(model, args, opset_version=7)
    with pytest.raises(ValueError, match="input_names"):
        torch.onnx.export(model, args, input_names=["a", "b"])


def test_in_place_write_into_a_view_is_refused(tmp_path):
    class WriteView(nn.Module):
        def forward(self, x):
            y = x * 2
            y[0].relu_()
            return y

    with pytest.raises(NotImplementedError, match="in-place write into a view"):
        torch.onnx.export(WriteView(), (torch.randn(2, 3),), tmp_path / "w.onnx")


# ----- dynamic axes ------------------------------------------------------------------------------------------
class _ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 4, 3), nn.Linear(4 * 6 * 6, 5)

    def forward(self, x):
        h = torch.relu(self.conv(x))
        return self.fc(h.view(h.size(0), -1))  # the batch size read in Python: a reshape that must stay free


class _Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln, self.qkv, self.out = nn.LayerNorm(16), nn.Linear(16, 48), nn.Linear(16, 16)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = (z.view(b, t, 4, 4).transpose(1, 2) for z in self.qkv(self.ln(x)).split(16, dim=2))
        a = (q @ k.transpose(-2, -1) / 2.0).softmax(-1)
        return x + self.out((a @ v).transpose(1, 2).reshape(b, t, c))


@pytest.mark.parametrize("make, shape, axes, sizes", [
    (lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)), (4, 8), {"x": {0: "batch"}},
     [(1, 8), (9, 8)]),
    (_ConvNet, (2, 1, 8, 8), {"x": [0]}, [(1, 1, 8, 8), (5, 1, 8, 8)]),
    (_Attention, (2, 5, 16), {"x": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"}}, [(1, 2, 16), (3, 9, 16)]),
])
def test_dynamic_axes_run_at_other_sizes(make, shape, axes, sizes):
    torch.manual_seed(0)
    model = make().eval()
    f = io.BytesIO()
    torch.onnx.export(model, (torch.randn(*shape),), f, input_names=["x"], output_names=["y"], dynamic_axes=axes)
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    dims = session.get_inputs()[0].shape
    assert [d for d in dims if isinstance(d, str)] == [name for a, name in sorted(
        (axes["x"].items() if isinstance(axes["x"], dict) else [(0, "x_dynamic_axes_1")]))]
    assert session.get_outputs()[0].shape[0] == dims[0]  # the output's batch is named after the input's
    for size in sizes:
        x = torch.randn(*size)
        with torch.no_grad():
            expected = model(x).numpy()
        got, = session.run(None, {"x": x.numpy()})
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


class _Positional(nn.Module):
    def __init__(self):
        super().__init__()
        self.pos = nn.Embedding(32, 8)

    def forward(self, x):
        return x + self.pos(torch.arange(x.shape[1]))  # arange(T) becomes a constant of the trace


class _HalfSlice(nn.Module):
    def forward(self, x):
        return x[:, : x.shape[1] // 2] * 2


@pytest.mark.parametrize("model, match", [(_Positional(), "constant is computed from the dynamic size"),
                                          (_HalfSlice(), "op 'slice'|does not run correctly")])
def test_dynamic_axes_a_graph_cannot_follow_are_refused_naming_why(model, match):
    with pytest.raises(NotImplementedError, match=match):
        torch.onnx.export(model, (torch.randn(2, 6, 8),), io.BytesIO(), input_names=["x"],
                          dynamic_axes={"x": {0: "batch", 1: "seq"}})


def test_dynamic_axes_batch_only_where_the_sequence_is_fixed():
    model = _Positional().eval()
    f = io.BytesIO()
    torch.onnx.export(model, (torch.randn(2, 6, 8),), f, input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    x = torch.randn(5, 6, 8)
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(run_onnx(f.getvalue(), [x])[0], expected, rtol=1e-6, atol=1e-6)


def test_dynamic_axes_bad_specs():
    model, args = MODELS["mlp"]()
    with pytest.raises(ValueError, match="axis 5"):
        torch.onnx.export(model, args, io.BytesIO(), dynamic_axes={"input_0": {5: "batch"}})
    with pytest.raises(TypeError, match="dynamic_axes"):
        torch.onnx.export(model, args, io.BytesIO(), dynamic_axes=[0])
    with pytest.raises(ValueError, match="names no axis of an input"):
        torch.onnx.export(model, args, io.BytesIO(), dynamic_axes={"output_0": [0]})
    with pytest.warns(UserWarning, match="not a valid input/output name"):
        torch.onnx.export(model, args, io.BytesIO(), dynamic_axes={"input_0": [0], "nope": [0]})
