"""python -m website [--results DIR] [--out DIR]: render the leaderboard site."""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness.results import results_dir  # noqa: E402
from website import HERE, build_site  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m website", description="Render the static leaderboard site.")
    p.add_argument("--results", default=None, help="results directory (default: results/)")
    p.add_argument("--out", default=os.path.join(HERE, "build"), help="output directory (default: website/build/)")
    p.add_argument("--archive", choices=("auto", "always", "never"), default="auto",
                   help="results.tar.gz: made again when its files changed (auto, the default), always, or never")
    args = p.parse_args(argv)
    root = args.results or results_dir()
    if not os.path.isdir(root):
        print(f"error: no results directory {root}: run `python run.py` first", file=sys.stderr)
        return 2
    start = time.time()
    site = build_site(root, args.out, archive={"auto": None, "always": True, "never": False}[args.archive])
    print(f"rendered {len(site.rows)} results into {args.out}/index.html in {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
