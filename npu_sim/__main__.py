"""Command line: ``python -m npu_sim report --model resnet50 --batch 32 [--preset ascend910]``."""
import argparse
import sys

from .config import PRESETS, preset
from .models import resnet50
from .network import run_network
from .roofline import chip_limits

MODELS = {"resnet50": resnet50.layers}


def main(argv=None):
    """Parse arguments and print the estimate, the roofline bound and the per-layer table."""
    parser = argparse.ArgumentParser(prog="python -m npu_sim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="estimate a built-in network's forward pass")
    rep.add_argument("--model", choices=sorted(MODELS), default="resnet50")
    rep.add_argument("--batch", type=int, default=1)
    rep.add_argument("--preset", choices=sorted(PRESETS), default="ascend910")
    rep.add_argument("--cores", type=int, default=None, help="cores to use (default: all)")
    roof = sub.add_parser("roofline", help="simulate the roofline kernels and write a PNG (needs matplotlib)")
    roof.add_argument("--preset", choices=sorted(PRESETS), default="ascend910")
    roof.add_argument("--out", default="docs/npu_roofline.png")
    args = parser.parse_args(argv)
    cfg = preset(args.preset)
    if args.command == "roofline":
        from .roofline import plot_roofline, simulated_points
        points = simulated_points(cfg)
        for label, intensity, flops in points:
            print(f"{label:<26} {intensity:8.1f} FLOP/B  {flops / 1e12:7.1f} TFLOP/s")
        print("wrote", plot_roofline(cfg, points, args.out))
        return 0
    result = run_network(cfg, MODELS[args.model](), args.batch, args.cores)
    limits = chip_limits(cfg)
    macs = sum(l.macs for l in result.layers)
    peak_ips = limits["peak_flops"] / (2 * macs / args.batch)
    print(f"{args.model} forward, batch {args.batch}, {cfg.name} ({args.cores or cfg.num_cores} cores, "
          f"{cfg.clock_hz / 1e9:.2f} GHz, launch {cfg.kernel_launch_overhead_s * 1e6:.0f} us/layer)")
    print(f"estimated: {result.images_per_second:,.0f} images/s ({result.seconds * 1e3:.3f} ms per batch)")
    print(f"roofline bound (per layer max(cube, HBM), no launch cost): "
          f"{result.roofline_images_per_second:,.0f} images/s; cube peak alone: {peak_ips:,.0f} images/s")
    print(result.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
