"""FilterBench: run filtered-ANN benchmarks.

    python -m install && python run.py --dataset random-filter-s --algorithm faiss-hnsw
    python run.py --local --algorithm faiss-hnsw        # the same worker, as a local subprocess
    python run.py --list-algorithms

The command line only: the sweep itself is harness.sweep.
"""
import os
import signal
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, ROOT)

from harness.runner import Interrupted, stop  # noqa: E402
from harness.sweep import parse_args, run  # noqa: E402


def install_signal_handlers():
    """SIGINT and SIGTERM raise Interrupted once, wherever run.py is (while a worker is being
    started, once it is); the engines stop their worker on the way out. A second signal while
    stopping is ignored."""
    def handler(signum, frame):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop(signum)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def main(argv=None):
    args = parse_args(argv)
    install_signal_handlers()
    try:
        return run(args)
    except Interrupted as e:
        print(f"stopped by {e}: the current worker was stopped and its finished passes kept; "
              f"run the same command again to resume", file=sys.stderr)
        return 128 + e.signum


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # progress lines reach a log file as they are written
    sys.exit(main())
