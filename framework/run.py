"""Run an unmodified PyTorch script on the framework: ``python -m framework.run script.py [args...]``.

``-m module [args...]`` runs a module instead of a file, as ``python -m`` would.
"""
import os
import runpy
import sys

from . import compat


def main(argv=None):
    """Install the ``torch`` alias, then run the script (or ``-m`` module) as ``__main__`` with its argv."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m framework.run script.py [args...] | -m module [args...]", file=sys.stderr)
        return 2
    compat.install()
    if argv[0] == "-m":
        if len(argv) < 2:
            print("framework.run: -m needs a module name", file=sys.stderr)
            return 2
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    script = argv[0]
    sys.argv = [script, *argv[1:]]
    # As `python script.py` does, the script's folder comes first on the path (the others stay, so that
    # the framework's own lazily imported packages are still found).
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
