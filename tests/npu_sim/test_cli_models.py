"""``python -m npu_sim report`` with layer lists from the zoo (zoo.npu_layers) and from entry-point providers."""
import importlib.metadata
import subprocess
import sys

import pytest

import framework as fw
from npu_sim import ascend910
from npu_sim.__main__ import catalogue, load_layers, main, providers
from npu_sim.kernels.conv import ConvShape
from npu_sim.models import resnet50
from npu_sim.network import run_network
from zoo import npu_layers


def _geometry(shape):
    return tuple(shape)[1:]     # everything but the name


def test_zoo_resnet50_matches_builtin_list_and_estimate():
    zoo_shapes = load_layers(npu_layers, "resnet50")
    builtin = resnet50.layers()
    # the zoo's Bottleneck runs its downsample before conv1 (the built-in list puts it after conv3)
    assert sorted(map(_geometry, zoo_shapes)) == sorted(map(_geometry, builtin))
    assert zoo_shapes[0] == ConvShape("conv1", 3, 64, 224, 224, 7, 2, 3)
    assert zoo_shapes[-1] == ConvShape("fc", 2048, 1000, 1, 1, 1, 1, 0)
    assert [s.name for s in zoo_shapes[1:5]] == ["layer1.0.downsample.0", "layer1.0.conv1", "layer1.0.conv2",
                                               "layer1.0.conv3"]
    cfg = ascend910()
    from_zoo, from_builtin = run_network(cfg, zoo_shapes, 1), run_network(cfg, builtin, 1)
    assert sum(l.macs for l in from_zoo.layers) == resnet50.total_macs() == pytest.approx(4.09e9, rel=0.01)
    assert from_zoo.roofline_images_per_second == pytest.approx(from_builtin.roofline_images_per_second, rel=1e-12)
    # only the L2 / feature-map reuse between neighbouring layers sees the different order
    assert from_zoo.images_per_second == pytest.approx(from_builtin.images_per_second, rel=0.01)


def test_cli_subprocess_text_model_at_small_batch():
    cmd = [sys.executable, "-m", "npu_sim", "report", "--model", "bert-tiny", "--batch", "4", "--seq", "16"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""        # stderr is not a terminal: no progress bar, no status line
    out = run.stdout
    assert out.startswith("bert-tiny forward, batch 4, ascend910")
    assert "layers: 17 GEMMs from the zoo provider" in out and "sequences/s" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[5:]}
    assert len(rows) == 17
    # bert-tiny: hidden 128, 2 heads of 64, intermediate 512; M = batch * tokens (x heads for attention)
    assert rows["encoder.layer.0.attention.self.query"][1] == "64x128x128"
    assert rows["encoder.layer.0.attention.self.scores"][1] == "128x64x16"
    assert rows["encoder.layer.0.attention.self.context"][1] == "128x16x64"
    assert rows["encoder.layer.1.intermediate.dense"][1] == "64x128x512"
    assert rows["pooler.dense"][1] == "4x128x128"


def test_unknown_model_is_an_error_listing_the_known_ones(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", "--model", "resnet5"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown model 'resnet5'; known models:" in err
    for name in ("resnet50", "resnet18", "vit_b_16", "bert-base-uncased", "gpt2", "yolov5s"):
        assert name in err
    with pytest.raises(SystemExit):
        main(["report", "--model", "gpt2", "--source", "builtin"])
    assert "unknown model 'gpt2' in --source builtin; known models: resnet50" in capsys.readouterr().err


def test_help_lists_every_model_by_source(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "builtin: resnet50" in text
    assert "zoo: " + ", ".join(npu_layers.names()) in text


def test_bad_arguments_fail_before_any_model_is_built(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--model", "resnet18", "--seq", "8"])
    assert "seq_len applies to text models" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--model", "resnet18", "--batch", "0"])
    assert "must be positive, got batch=0" in capsys.readouterr().err


def test_gpt2_attention_matmuls_sit_between_the_projections():
    from zoo.models.gpt2 import gpt2
    model = gpt2(n_layer=1, n_embd=32, n_head=2, vocab_size=50, n_positions=16).eval()
    records = npu_layers.trace_layers(model, fw.zeros(1, 8, dtype=fw.long))

    def rec(name, cin, cout, h):
        return dict(name=name, cin=cin, cout=cout, h=h, w=1, k=1, stride=1, pad=0)
    block = "transformer.h.0."
    assert records == [rec(block + "attn.c_attn", 32, 96, 8), rec(block + "attn.scores", 16, 8, 16),
                       rec(block + "attn.context", 8, 16, 16), rec(block + "attn.c_proj", 32, 32, 8),
                       rec(block + "mlp.c_fc", 32, 128, 8), rec(block + "mlp.c_proj", 128, 32, 8),
                       rec("lm_head", 32, 50, 8)]


def test_multihead_attention_records_all_four_gemms():
    class SelfAttention(fw.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = fw.nn.MultiheadAttention(32, 4, batch_first=True)

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    records = npu_layers.trace_layers(SelfAttention().eval(), fw.zeros(1, 10, 32))
    assert [r["name"] for r in records] == ["attn.in_proj", "attn.scores", "attn.context", "attn.out_proj"]
    # 10 tokens, width 32, 4 heads of 8: in_proj 10*32*96, Q K^T and P V 4*10*10*8 each, out_proj 10*32*32
    assert sum(ConvShape(**r).macs() for r in records) == 30720 + 2 * 3200 + 10240


def test_unsupported_layers_raise_naming_the_argument():
    grouped = fw.nn.Sequential(fw.nn.Conv2d(4, 4, 3, groups=2))
    with pytest.raises(NotImplementedError, match=r"0 has dilation=\(1, 1\), groups=2"):
        npu_layers.trace_layers(grouped, fw.zeros(1, 4, 8, 8))
    with pytest.raises(NotImplementedError, match="0 is a Conv1d"):
        npu_layers.trace_layers(fw.nn.Sequential(fw.nn.Conv1d(4, 4, 3)), fw.zeros(1, 4, 8))
    with pytest.raises(ValueError, match="one sample"):
        npu_layers.trace_layers(fw.nn.Linear(3, 3), fw.zeros(2, 3))


def _fake_provider(tmp_path, monkeypatch, body):
    (tmp_path / "fake_npu_provider.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = importlib.metadata.EntryPoint(name="fake", value="fake_npu_provider", group="npu_sim.models")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [ep] if group == "npu_sim.models" else [])
    monkeypatch.delitem(sys.modules, "fake_npu_provider", raising=False)


def test_entry_point_provider_is_discovered_and_reported(tmp_path, monkeypatch, capsys):
    _fake_provider(tmp_path, monkeypatch, (
        "def names():\n    return ['two-layer']\n"
        "def layers(name, seq_len=None):\n"
        "    return [dict(name='proj_in', cin=64, cout=128, h=32, w=1, k=1, stride=1, pad=0),\n"
        "            dict(name='proj_out', cin=128, cout=64, h=32, w=1, k=1, stride=1, pad=0)]\n"))
    assert catalogue(providers())["two-layer"] == "fake"
    assert main(["report", "--model", "two-layer", "--batch", "2", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "layers: 2 GEMMs from the fake provider" in captured.out and "images/s" in captured.out
    assert "64x64x128" in captured.out and "64x128x64" in captured.out


def test_malformed_provider_record_is_a_clear_error(tmp_path, monkeypatch):
    _fake_provider(tmp_path, monkeypatch, (
        "def names():\n    return ['broken']\n"
        "def layers(name, seq_len=None):\n    return [dict(name='x', cin=1, cout=2, height=3)]\n"))
    with pytest.raises(TypeError, match="'broken' a layer record .* not ConvShape's fields"):
        load_layers(providers()["fake"], "broken")


def test_without_the_zoo_only_the_builtin_list_remains(monkeypatch, capsys):
    import npu_sim.__main__ as cli
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [])
    monkeypatch.setattr(cli, "FALLBACK_PROVIDER", ("zoo", "no_such_zoo_package.npu_layers"))
    found = providers()
    assert list(found) == ["builtin"] and catalogue(found) == {"resnet50": "builtin"}
    assert capsys.readouterr().err == ""


def test_progress_bar_only_when_asked(capsys):
    pytest.importorskip("tqdm")
    layers = [ConvShape("a", 64, 64, 8, 8, 3, 1, 1), ConvShape("b", 64, 64, 8, 8, 1, 1, 0)]
    quiet = run_network(ascend910(), layers, 1)
    assert capsys.readouterr().err == ""
    shown = run_network(ascend910(), layers, 1, progress=True)
    err = capsys.readouterr().err
    assert "simulate:" in err and "/2 [" in err
    assert [l.seconds for l in shown.layers] == [l.seconds for l in quiet.layers]
