"""The zoo's command line: ``python -m zoo {list,train,eval,generate,export}``; plain ``python -m zoo`` trains."""
import argparse
import sys
import time

import framework as torch
from framework.utils.data import DataLoader, TensorDataset

import zoo
from zoo.callbacks import LossMonitor, Timer
from zoo.datasets import load_digits

# Models trainable on the bundled digits: their builder config, input size and training defaults.
# Measured with the defaults (Adam, lr 5e-3, batch 32, seed 0): mlp 5 epochs -> 0.975 test accuracy (~3 s of
# training); lenet 3 epochs -> 0.967 (~15 s). tests/zoo/test_cli.py checks these numbers.
DIGITS = {
    "mlp": {"config": {"in_features": 64, "hidden_features": (128,), "num_classes": 10}, "image_size": None,
            "epochs": 5},
    "lenet": {"config": {"num_classes": 10}, "image_size": 32, "epochs": 3},
}
DEFAULT_LR, DEFAULT_BATCH_SIZE = 5e-3, 32
# An example input per family (or per digits model), to trace for ONNX export: images, or token ids for text models.
_EXAMPLE_INPUTS = {"mlp": lambda: torch.randn(1, 64), "lenet": lambda: torch.randn(1, 1, 32, 32),
                   "resnet": lambda: torch.randn(1, 3, 224, 224), "vit": lambda: torch.randn(1, 3, 224, 224),
                   "yolo": lambda: torch.randn(1, 3, 640, 640), "bert": lambda: torch.randint(0, 1000, (1, 16)),
                   "gpt2": lambda: torch.randint(0, 1000, (1, 16))}


class CommandError(Exception):
    """A user error the command line reports as one line on stderr (exit status 2)."""


def _digits_entry(name, command):
    if name in DIGITS:
        return DIGITS[name]
    known = zoo.list_models()
    if name not in known:
        raise CommandError(f"unknown model {name!r}; known models: {', '.join(known)}")
    raise CommandError(f"{command} works on the bundled digits data, for {', '.join(DIGITS)}; {name!r} needs a "
                       "data set this repository does not ship (use zoo.Model from Python)")


def digits_loaders(name, batch_size=DEFAULT_BATCH_SIZE, seed=0):
    """Train and test DataLoaders of the bundled digits shaped for model ``name`` (LeNet: upsampled to 32x32)."""
    x_train, y_train, x_test, y_test = load_digits(image_size=_digits_entry(name, "train")["image_size"])
    generator = torch.Generator().manual_seed(seed)
    train = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True, generator=generator)
    test = DataLoader(TensorDataset(x_test, y_test), batch_size=256)
    return train, test


def train(name="mlp", epochs=None, batch_size=DEFAULT_BATCH_SIZE, lr=DEFAULT_LR, device="cpu", graph=False, seed=0,
          save=None, verbose=1, print_fn=print):
    """Train ``name`` (mlp or lenet) on the bundled digits with Adam; returns ``(zoo.Model, history)``.

    ``history["val_accuracy"][-1]`` is the final test accuracy (the test split serves as validation data).
    """
    entry = _digits_entry(name, "train")
    epochs = entry["epochs"] if epochs is None else epochs
    torch.manual_seed(seed)
    net = zoo.load(name, **entry["config"])
    train_loader, test_loader = digits_loaders(name, batch_size, seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    model = zoo.Model(net, torch.nn.CrossEntropyLoss(), optimizer, metrics=["accuracy"], device=device, graph=graph)
    callbacks = [Timer(), LossMonitor(print_fn=print_fn)] if verbose else []
    history = model.train(epochs, train_loader, test_loader, callbacks=callbacks, verbose=verbose)
    if save:
        torch.save(net.state_dict(), save)
    return model, history


def _cmd_list(args):
    known = zoo.list_models()
    unknown = [name for name in args.names if name not in known]
    if unknown:
        raise CommandError(f"unknown model(s) {', '.join(map(repr, unknown))}; known models: {', '.join(known)}")
    names = args.names or known
    width = max(len(name) for name in names)
    print(f"{'model':<{width}}  {'family':<8}  {'parameters' if args.params else '':>13}".rstrip())
    for name in names:
        count = f"{sum(p.numel() for p in zoo.load(name).parameters()):>13,}" if args.params else ""
        print(f"{name:<{width}}  {zoo.hub.model_family(name):<8}  {count}".rstrip())


def _cmd_train(args):
    if args.graph and not hasattr(torch, "compile"):
        raise CommandError("--graph: graph mode is unavailable, this framework build has no framework.compile")
    if args.device != "npu":
        _train_and_report(args)
        return
    with torch.npu.profile() as prof:
        _train_and_report(args)
    print("\nNPU profile (simulated):")
    print(prof.table())
    print(f"estimated chip time: {prof.chip_estimate().seconds * 1e3:.2f} ms")


def _train_and_report(args):
    start = time.perf_counter()
    entry = _digits_entry(args.model, "train")
    epochs = entry["epochs"] if args.epochs is None else args.epochs
    print(f"training {args.model} on the bundled digits (1437 train / 360 test images) for {epochs} epoch(s) on "
          f"{args.device}{' in graph mode' if args.graph else ''}")
    _, history = train(args.model, epochs, args.batch_size, args.lr, args.device, args.graph, args.seed, args.save)
    if history:
        print(f"test accuracy {history['val_accuracy'][-1]:.4f}  ({time.perf_counter() - start:.1f} s)")
    if args.save:
        print(f"saved weights to {args.save}")


def _cmd_eval(args):
    entry = _digits_entry(args.model, "eval")
    net = _load_or_fail(args.model, args.weights, args.device, **entry["config"])
    _, test_loader = digits_loaders(args.model)
    metrics = zoo.Model(net, torch.nn.CrossEntropyLoss(), metrics=["accuracy", "top_3_accuracy"],
                        device=args.device).evaluate(test_loader)
    print(f"{args.model} on the digits test split (360 images): " +
          "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


def _cmd_generate(args):
    model = _load_or_fail(args.model, args.weights, args.device)
    if not hasattr(model, "generate"):
        raise CommandError(f"{args.model!r} is not a text generation model (it has no generate method)")
    try:
        tokenizer = zoo.load_tokenizer(args.weights)
    except FileNotFoundError as e:
        raise CommandError(str(e)) from None
    ids = torch.tensor([tokenizer.encode(args.prompt)], device=args.device)
    stop = None
    if not args.no_stop:
        stop = tokenizer.eos_token_id
        stop = getattr(getattr(model, "config", None), "eos_token_id", None) if stop is None else stop
    if args.temperature == 0:
        if args.top_k is not None or args.top_p is not None:
            raise CommandError("--top-k/--top-p need sampling: give a --temperature above 0")
        out = model.generate(ids, max_new_tokens=args.max_new_tokens, eos_token_id=stop, progress=True)
    else:
        generator = torch.Generator().manual_seed(args.seed)
        out = model.generate(ids, max_new_tokens=args.max_new_tokens, do_sample=True, temperature=args.temperature,
                             top_k=args.top_k, top_p=args.top_p, eos_token_id=stop, generator=generator,
                             progress=True)
    print(tokenizer.decode(out[0].tolist()))


def _cmd_export(args):
    if not hasattr(torch, "onnx"):
        raise CommandError("ONNX export is not available yet: this framework build has no framework.onnx")
    family = zoo.hub.model_family(args.model) if args.model in zoo.list_models() else None
    config = DIGITS.get(args.model, {}).get("config", {})
    model = _load_or_fail(args.model, args.weights, "cpu", **config).eval()
    make_input = _EXAMPLE_INPUTS.get(args.model, _EXAMPLE_INPUTS.get(family))
    if make_input is None:
        raise CommandError(f"export: no example input known for the {family!r} family; export from Python with "
                           "framework.onnx.export(model, (example_input,), path)")
    dynamic = {"input": {0: "batch"}, "output": {0: "batch"}} if args.dynamic_batch else None
    try:
        torch.onnx.export(model, (make_input(),), args.onnx, input_names=["input"], output_names=["output"],
                          dynamic_axes=dynamic)
    except Exception as e:  # the exporter's reasons (an unsupported op, a graph break) are the user's answer
        raise CommandError(f"export of {args.model} failed: {type(e).__name__}: {e}") from None
    print(f"exported {args.model} to {args.onnx}")


def _load_or_fail(name, weights, device, **config):
    try:
        return zoo.load(name, weights=weights, device=device, **config)
    except FileNotFoundError as e:
        raise CommandError(str(e)) from None
    except ValueError as e:
        if "unknown model" in str(e):
            raise CommandError(str(e)) from None
        raise


def build_parser():
    """The argparse parser of ``python -m zoo``."""
    parser = argparse.ArgumentParser(prog="python -m zoo", description="Model zoo: list, train, evaluate, generate, "
                                     "export. Progress bars show on a terminal; ZOO_PROGRESS=0 hides them.")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("list", help="models with their family (and parameter count with --params)")
    p.add_argument("names", nargs="*", metavar="NAME", help="only these models")
    p.add_argument("--params", action="store_true", help="count parameters: builds each model, which takes a while "
                   "and GBs of memory for the largest (gpt2-xl, bert-large, vit_l_16); name a few to be quick")
    p.set_defaults(run=_cmd_list)

    p = sub.add_parser("train", help="train mlp or lenet on the bundled UCI digits",
                       description="Train on the bundled UCI handwritten digits (1437 train / 360 test 8x8 images; "
                       "LeNet sees them upsampled to 32x32 with bilinear F.interpolate) with Adam. Reached test "
                       "accuracy with the defaults (seed 0): mlp, 5 epochs: 0.975; lenet, 3 epochs: 0.967.")
    p.add_argument("model", nargs="?", default="mlp", help="mlp (default) or lenet")
    p.add_argument("--epochs", type=int, default=None, help="default: mlp 5, lenet 3")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument("--lr", type=float, default=DEFAULT_LR, help="Adam learning rate")
    p.add_argument("--device", default="cpu", choices=["cpu", "npu"], help="npu: the simulated NPU, with a profile")
    p.add_argument("--graph", action="store_true", help="compile the training step with framework.compile")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", metavar="PATH", help="write the trained state_dict here (framework.save)")
    p.set_defaults(run=_cmd_train)

    p = sub.add_parser("eval", help="evaluate saved mlp/lenet weights on the digits test split")
    p.add_argument("model")
    p.add_argument("--weights", required=True, metavar="PATH")
    p.add_argument("--device", default="cpu", choices=["cpu", "npu"])
    p.set_defaults(run=_cmd_eval)

    p = sub.add_parser("generate", help="generate text with a GPT-2 checkpoint directory")
    p.add_argument("model", help="e.g. gpt2")
    p.add_argument("--weights", required=True, metavar="DIR", help="config.json, weights and tokenizer.json")
    p.add_argument("--prompt", required=True)
    p.add_argument("--max-new-tokens", type=int, default=40)
    p.add_argument("--temperature", type=float, default=1.0, help="0 for greedy decoding")
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling generator")
    p.add_argument("--no-stop", action="store_true", help="do not stop at the end-of-text token")
    p.add_argument("--device", default="cpu", choices=["cpu", "npu"])
    p.set_defaults(run=_cmd_generate)

    p = sub.add_parser("export", help="export a model to ONNX")
    p.add_argument("model")
    p.add_argument("--onnx", required=True, metavar="OUT")
    p.add_argument("--weights", metavar="PATH")
    p.add_argument("--dynamic-batch", action="store_true", help="leave the batch dim free (ONNX dim 'batch')")
    p.set_defaults(run=_cmd_export)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (``python -m zoo`` alone is ``python -m zoo train``)."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        args = build_parser().parse_args(["train", *(argv or [])])
    try:
        args.run(args)
    except CommandError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
