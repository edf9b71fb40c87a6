"""``python -m zoo`` as a user runs it: in a subprocess, output and exit status checked."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args, timeout=120):
    # One BLAS thread: on a busy 2-core machine OpenBLAS's threads thrash (LeNet's epoch goes from 2 s to 40 s).
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "zoo", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_list_shows_names_and_families_and_counts_on_request():
    out = run("list")
    assert out.returncode == 0, out.stderr
    rows = dict(line.split()[:2] for line in out.stdout.splitlines()[1:])
    assert rows["mlp"] == "mlp" and rows["lenet"] == "lenet"
    out = run("list", "lenet", "mlp", "--params")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["model", "family", "parameters"]
    assert lines[1].split() == ["lenet", "lenet", "61,706"]  # 156 + 2,416 + 48,120 + 10,164 + 850
    assert lines[2].split() == ["mlp", "mlp", "235,146"]  # 784*256+256 + 256*128+128 + 128*10+10


def test_train_mlp_one_epoch_then_eval_saved_weights(tmp_path):
    weights = tmp_path / "mlp.pt"
    out = run("train", "mlp", "--epochs", "1", "--save", str(weights))
    assert out.returncode == 0, out.stderr
    assert "epoch 1/1  loss" in out.stdout and "val_accuracy" in out.stdout
    accuracy = float(out.stdout.split("test accuracy ")[1].split()[0])
    assert accuracy > 0.8 and weights.exists()
    assert out.stderr == ""  # no progress bar when stdout is not a terminal
    out = run("eval", "mlp", "--weights", str(weights))
    assert out.returncode == 0, out.stderr
    assert f"accuracy {accuracy:.4f}" in out.stdout and "top_3_accuracy" in out.stdout


def test_train_lenet_one_epoch():
    out = run("train", "lenet", "--epochs", "1", "--batch-size", "32")
    assert out.returncode == 0, out.stderr
    assert "training lenet" in out.stdout and float(out.stdout.split("test accuracy ")[1].split()[0]) > 0.5


def test_unknown_or_untrainable_model_is_a_clear_error(tmp_path):
    out = run("train", "alexnet")
    assert out.returncode == 2
    assert "unknown model 'alexnet'; known models:" in out.stderr and "lenet, mlp" in out.stderr
    out = run("eval", "mlp", "--weights", str(tmp_path / "missing.pt"))
    assert out.returncode == 2 and "missing.pt does not exist" in out.stderr


# In-process from here: the same main() the module runs, without paying a fresh interpreter's start-up again.
def test_graph_mode_trains_like_eager_or_says_it_is_unavailable(capsys):
    import framework
    from zoo.__main__ import main
    status = main(["train", "mlp", "--graph", "--epochs", "1"])
    out, err = capsys.readouterr()
    if not hasattr(framework, "compile"):
        assert status == 2 and "graph mode is unavailable" in err
        return
    assert status == 0, err
    assert main(["train", "mlp", "--epochs", "1"]) == 0
    eager = capsys.readouterr().out
    assert "in graph mode" in out
    assert out.split("test accuracy ")[1].split()[0] == eager.split("test accuracy ")[1].split()[0]


def test_export_writes_an_onnx_file_that_runs_like_the_model(tmp_path, capsys):
    import numpy as np
    import framework
    import zoo
    from zoo.__main__ import DIGITS, main
    if not hasattr(framework, "onnx"):
        assert main(["export", "mlp", "--onnx", str(tmp_path / "mlp.onnx")]) == 2
        assert "ONNX export is not available" in capsys.readouterr().err
        return
    ort = pytest.importorskip("onnxruntime")
    framework.manual_seed(3)
    net = zoo.load("mlp", **DIGITS["mlp"]["config"]).eval()
    framework.save(net.state_dict(), tmp_path / "mlp.pt")
    assert main(["export", "mlp", "--weights", str(tmp_path / "mlp.pt"), "--onnx", str(tmp_path / "mlp.onnx")]) == 0
    assert "exported mlp" in capsys.readouterr().out
    session = ort.InferenceSession(str(tmp_path / "mlp.onnx"))
    x = np.random.default_rng(0).random((1, 64), dtype=np.float32)
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(got, net(framework.tensor(x)).detach().numpy(), atol=1e-5)
    assert main(["export", "mlp", "--weights", str(tmp_path / "mlp.pt"), "--onnx", str(tmp_path / "d.onnx"),
                 "--dynamic-batch"]) == 0
    session = ort.InferenceSession(str(tmp_path / "d.onnx"))
    assert session.get_inputs()[0].shape[0] == "batch" and session.get_outputs()[0].shape[0] == "batch"
    x = np.random.default_rng(1).random((5, 64), dtype=np.float32)
    (got,) = session.run(None, {"input": x})
    np.testing.assert_allclose(got, net(framework.tensor(x)).detach().numpy(), atol=1e-5)
    assert main(["export", "alexnet", "--onnx", str(tmp_path / "a.onnx")]) == 2
    assert "unknown model 'alexnet'" in capsys.readouterr().err


def test_generate_with_a_tiny_gpt2_checkpoint_directory(tmp_path, capsys):
    tokenizers = pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    import json
    import framework
    import framework.serialization
    import zoo
    from zoo.__main__ import main
    from zoo.datasets import DATA_DIR
    if "gpt2" not in zoo.list_models():
        pytest.skip("zoo has no gpt2 model")
    from tokenizers import decoders, models, pre_tokenizers, trainers
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    with open(os.path.join(DATA_DIR, "declaration.txt"), encoding="utf-8") as f:
        tok.train_from_iterator(f.read().split("\n"), trainers.BpeTrainer(
            vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.save(str(tmp_path / "tokenizer.json"))
    config = {"model_type": "gpt2", "vocab_size": tok.get_vocab_size(), "n_positions": 64, "n_embd": 32,
              "n_layer": 2, "n_head": 2, "eos_token_id": 0, "bos_token_id": 0}
    (tmp_path / "config.json").write_text(json.dumps(config))
    framework.manual_seed(0)
    net = zoo.load("gpt2", config=config)
    framework.serialization.save_safetensors(dict(net.state_dict()), str(tmp_path / "model.safetensors"))

    prompt = "When in the Course"
    assert main(["generate", "gpt2", "--weights", str(tmp_path), "--prompt", prompt, "--max-new-tokens", "8",
                 "--temperature", "0", "--no-stop"]) == 0
    text = capsys.readouterr().out.strip()
    model = zoo.load("gpt2", weights=tmp_path)
    ids = framework.tensor([tok.encode(prompt).ids])
    expected = tok.decode(model.generate(ids, max_new_tokens=8)[0].tolist())
    assert text == expected and text.startswith(prompt)
    assert main(["generate", "gpt2", "--weights", str(tmp_path), "--prompt", prompt, "--max-new-tokens", "4",
                 "--temperature", "0.8", "--top-k", "5", "--top-p", "0.9"]) == 0
    assert capsys.readouterr().out.startswith(prompt)
    assert main(["generate", "gpt2", "--weights", str(tmp_path / "nowhere"), "--prompt", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
