"""python -m install [--algorithm NAME ...] [--proc N] [--force] [--base auto|registry|debootstrap] [--wheels DIR]
                    [--march LEVEL]

Builds the base image and the plugin images; one line per image; exit 1 if any failed."""
import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness.definitions import ConfigError, load_all, select  # noqa: E402
from install import InstallError, build_base, build_plugin, image_name  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m install", description="Build the Docker images of the plugins.")
    p.add_argument("--algorithm", action="append", default=[], metavar="NAME",
                   help="build the images of these plugins, algorithms or run groups (default: all)")
    p.add_argument("--proc", type=int, default=1, help="plugin images built in parallel (default 1)")
    p.add_argument("--force", action="store_true", help="rebuild even when the inputs have not changed")
    p.add_argument("--base", choices=("auto", "registry", "debootstrap"), default="auto",
                   help="FROM of the base image: debian:bookworm-slim from a registry, Debian via debootstrap, "
                        "or the registry when it answers (default)")
    p.add_argument("--wheels", metavar="DIR", help="install Python packages offline from these wheels")
    p.add_argument("--march", default="x86-64-v3",
                   help="CPU level native code in the images targets (default x86-64-v3; x86-64-v2 for CPUs without AVX2)")
    p.add_argument("--mirror", metavar="URL", help="Debian mirror for debootstrap (default: the host's apt mirror)")
    p.add_argument("--plugins", metavar="DIR", help="directory of plugin folders (default: algorithms/)")
    args = p.parse_args(argv)
    try:
        import docker
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as e:
        print(f"error: no Docker engine reachable ({str(e).splitlines()[0]}); start dockerd first", file=sys.stderr)
        return 2
    try:
        configs = load_all(args.plugins) if args.plugins else load_all()
        selected = select(configs, args.algorithm) if args.algorithm else [(c, None) for c in configs.values()]
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    plugins = {}  # plugin folder -> the packages its algorithms declare
    for cfg, _ in selected:
        plugins.setdefault(os.path.dirname(cfg.path), set()).update(cfg.packages)

    def report(name, start, outcome):
        print(f"{name:28s} {outcome} ({time.time() - start:.0f} s)", flush=True)

    start = time.time()
    try:
        status, base = build_base(client, args.base, args.wheels, args.mirror, args.force, args.march,
                                  log=lambda m: print(m, flush=True))
    except InstallError as e:
        report("filterbench-base", start, f"failed: {e}")
        return 1
    report("filterbench-base", start, status)

    def one(item):
        plugin_dir, packages = item
        t = time.time()
        name = image_name(os.path.basename(plugin_dir))
        try:
            status, _ = build_plugin(client, plugin_dir, sorted(packages), base, args.wheels, args.force)
            report(name, t, status)
            return True
        except InstallError as e:
            report(name, t, f"failed: {e}")
            return False

    with ThreadPoolExecutor(max(1, args.proc)) as pool:
        ok = list(pool.map(one, sorted(plugins.items())))
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
