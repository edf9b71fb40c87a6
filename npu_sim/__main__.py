"""Command line: ``python -m npu_sim report --model resnet50 --batch 32 [--seq 128] [--preset ascend910] [--quiet]``.

Layer lists come from providers: npu_sim's built-in list (``resnet50``) and every module registered under the
``npu_sim.models`` entry-point group (the zoo registers ``zoo.npu_layers``); in a source checkout installed
before that entry point existed, ``zoo.npu_layers`` is imported directly when it is importable. npu_sim imports
none of them statically. A provider has ``names()``, ``layers(name, seq_len=None)`` returning one sample's GEMM
layers as ``ConvShape`` field dicts, and optionally ``sample_unit(name)`` ("images", "sequences", ...). A
provider's model replaces the built-in one of the same name; ``--source builtin`` picks the built-in list.
"""
import argparse
import importlib
import sys

from .config import PRESETS, preset
from .kernels.conv import ConvShape
from .models import resnet50
from .network import run_network
from .roofline import chip_limits

ENTRY_POINT_GROUP = "npu_sim.models"
FALLBACK_PROVIDER = ("zoo", "zoo.npu_layers")


class BuiltinProvider:
    """The layer lists shipped with npu_sim: image networks only, so no ``seq_len``."""

    LISTS = {"resnet50": resnet50.layers}

    def names(self):
        """Names of the built-in layer lists."""
        return sorted(self.LISTS)

    def layers(self, name, seq_len=None):
        """The built-in list ``name`` as ConvShapes."""
        if seq_len is not None:
            raise ValueError(f"--seq applies to text models; the built-in {name!r} is an image network")
        return self.LISTS[name]()


def providers():
    """``{source label: provider}``: 'builtin' first, then the entry points, then the zoo fallback import."""
    found = {"builtin": BuiltinProvider()}
    from importlib.metadata import entry_points
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue
        try:
            found[ep.name] = ep.load()
        except ImportError as e:
            print(f"npu_sim: model provider {ep.name} ({ep.value}) failed to import: {e}", file=sys.stderr)
    label, module = FALLBACK_PROVIDER
    if label not in found:
        try:
            found[label] = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name not in (module.split(".")[0], module):   # the zoo is absent: built-in lists, as intended
                print(f"npu_sim: model provider {module} failed to import: {e}", file=sys.stderr)
        except ImportError as e:
            print(f"npu_sim: model provider {module} failed to import: {e}", file=sys.stderr)
    return found


def catalogue(found):
    """``{model name: source label}``: a provider's model replaces a built-in one; the first provider wins a tie."""
    names = dict.fromkeys(found["builtin"].names(), "builtin")
    for label, provider in found.items():
        for name in provider.names():
            if names.get(name, "builtin") == "builtin":
                names[name] = label
    return names


def load_layers(provider, name, seq_len=None):
    """The provider's layer list for ``name`` as ConvShapes (records may be ConvShapes or dicts of its fields)."""
    shapes = []
    for record in provider.layers(name, seq_len=seq_len):
        if not isinstance(record, ConvShape):
            try:
                record = ConvShape(**record)
            except TypeError as e:
                raise TypeError(f"npu_sim: {getattr(provider, '__name__', provider)} gave {name!r} a layer record "
                                f"{record!r} that is not ConvShape's fields {ConvShape._fields}: {e}") from None
        shapes.append(record)
    return shapes


def _parser(found):
    parser = argparse.ArgumentParser(prog="python -m npu_sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="estimate a network's forward pass, layer by layer")
    listing = "; ".join(f"{label}: {', '.join(sorted(p.names()))}" for label, p in found.items())
    rep.add_argument("--model", default="resnet50", metavar="NAME", help=f"default resnet50; by source: {listing}")
    rep.add_argument("--source", choices=["auto"] + sorted(found), default="auto",
                     help="where the layer list comes from (auto: a provider's when it has the model, else built-in)")
    rep.add_argument("--batch", type=int, default=1)
    rep.add_argument("--seq", type=int, default=None, help="tokens per sequence of a text model (provider default)")
    rep.add_argument("--preset", choices=sorted(PRESETS), default="ascend910")
    rep.add_argument("--cores", type=int, default=None, help="cores to use (default: all)")
    rep.add_argument("--quiet", action="store_true", help="no progress bar or status lines on stderr")
    roof = sub.add_parser("roofline", help="simulate the roofline kernels and write a PNG (needs matplotlib)")
    roof.add_argument("--preset", choices=sorted(PRESETS), default="ascend910")
    roof.add_argument("--out", default="docs/npu_roofline.png")
    return parser, rep


def main(argv=None):
    """Parse arguments and print the estimate, the roofline bound and the per-layer table."""
    found = providers()
    names = catalogue(found)
    parser, report_parser = _parser(found)
    args = parser.parse_args(argv)
    cfg = preset(args.preset)
    if args.command == "roofline":
        from .roofline import plot_roofline, simulated_points
        points = simulated_points(cfg)
        for label, intensity, flops in points:
            print(f"{label:<26} {intensity:8.1f} FLOP/B  {flops / 1e12:7.1f} TFLOP/s")
        print("wrote", plot_roofline(cfg, points, args.out))
        return 0
    source = names.get(args.model) if args.source == "auto" else args.source
    known = sorted(names) if args.source == "auto" else found[source].names()
    if args.model not in known:
        where = "" if args.source == "auto" else f" in --source {source}"
        report_parser.error(f"unknown model {args.model!r}{where}; known models: {', '.join(known)}")
    if args.batch < 1 or (args.seq is not None and args.seq < 1) or (args.cores is not None and args.cores < 1):
        report_parser.error(f"--batch, --seq and --cores must be positive, got batch={args.batch}, seq={args.seq}, "
                     f"cores={args.cores}")
    provider = found[source]
    show_progress = not args.quiet and sys.stderr.isatty()
    if show_progress and source != "builtin":
        print(f"npu_sim: tracing {args.model} with the {source} provider (one forward pass at batch 1)...",
              file=sys.stderr)
    try:
        shapes = load_layers(provider, args.model, seq_len=args.seq)
    except ValueError as e:
        report_parser.error(str(e))
    result = run_network(cfg, shapes, args.batch, args.cores, progress=show_progress)
    unit = provider.sample_unit(args.model) if hasattr(provider, "sample_unit") else "images"
    limits = chip_limits(cfg)
    macs = sum(l.macs for l in result.layers)
    peak = limits["peak_flops"] / (2 * macs / args.batch)
    print(f"{args.model} forward, batch {args.batch}, {cfg.name} ({args.cores or cfg.num_cores} cores, "
          f"{cfg.clock_hz / 1e9:.2f} GHz, launch {cfg.kernel_launch_overhead_s * 1e6:.0f} us/layer)")
    print(f"layers: {len(shapes)} GEMMs from the {source} provider ({macs / args.batch / 1e9:.2f} GMAC per sample)")
    print(f"estimated: {result.images_per_second:,.0f} {unit}/s ({result.seconds * 1e3:.3f} ms per batch)")
    print(f"roofline bound (per layer max(cube, HBM), no launch cost): "
          f"{result.roofline_images_per_second:,.0f} {unit}/s; cube peak alone: {peak:,.0f} {unit}/s")
    print(result.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
