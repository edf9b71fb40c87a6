"""Run every benchmark in bench/ and print their tables (paste into docs/benchmarks.md with date and machine)."""
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

if __name__ == "__main__":
    print(f"# {time.strftime('%Y-%m-%d')} on {platform.machine()} ({os.cpu_count()} cores), "
          f"python {platform.python_version()}")
    for name in sorted(os.listdir(HERE)):
        if name.startswith("bench_") and name.endswith(".py"):
            subprocess.run([sys.executable, os.path.join(HERE, name)], check=False)
