"""Facts about the machine and the code that every result records, and memory readings."""
import glob
import hashlib
import os
import platform
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def available_cpus():
    """CPUs this process may run on (a container's cpuset, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cpu_info():
    model, flags = platform.processor() or platform.machine(), ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = value.strip()
    except OSError:
        pass
    return {"cpu_model": model, "cpu_flags": flags, "cpu_count": os.cpu_count() or 1, "cpus_available": available_cpus()}


def _status(field):
    """A field of /proc/self/status in bytes (Linux), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def rss():
    return _status("VmRSS")


def reset_peak_rss():
    """Resets the process's peak resident memory (VmHWM) so the next phase's peak can be read."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss():
    peak = _status("VmHWM")
    if peak is None:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return peak


def _plugin_config(plugin_dir):
    import yaml
    path = os.path.join(plugin_dir, "config.yml")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        raw = yaml.safe_load(f)
    return raw if isinstance(raw, dict) else {}


def uses_native(plugin_dir):
    """Whether the plugin's config.yml says `native: true`: it runs code compiled from native/."""
    return bool(_plugin_config(plugin_dir).get("native", False))


def native_files():
    """The sources of the native extension (native/): its Python loader, build files and C++."""
    folder = os.path.join(ROOT, "native")
    return sorted(p for p in glob.glob(os.path.join(folder, "**"), recursive=True)
                  if os.path.isfile(p) and "__pycache__" not in p and ".egg-info" not in p
                  and not p.startswith(os.path.join(folder, "build") + os.sep))


def _module_file(name, roots):
    """The file of a dotted module name under one of the roots, or None (not ours)."""
    for root in roots:
        base = os.path.join(root, *name.split("."))
        for candidate in (base + ".py", os.path.join(base, "__init__.py")):
            if os.path.isfile(candidate):
                return candidate, root
    return None


def _discovers_its_modules(init_path):
    """Whether a package imports its own modules by listing them (pkgutil.iter_modules(__path__)),
    as harness.predicates does: then no import statement names them."""
    with open(init_path, encoding="utf-8") as f:
        return "iter_modules(__path__)" in f.read()


def _imported_names(path):
    """Dotted names a Python file imports, anywhere in it (also inside functions)."""
    import ast
    with open(path, "rb") as f:
        tree = ast.parse(f.read(), filename=path)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def worker_files(plugin_dir):
    """(path, root) of every file a worker of this plugin runs: harness/worker.py and the plugin's
    folder, the project modules they import (followed to the end, packages' __init__.py
    included), and native/ for plugins that use it. Nothing else: editing the runner, the
    website, the benchmarks or the docs changes no result's code hash and no image."""
    plugin_dir = os.path.abspath(plugin_dir)
    # Where the plugin's module is imported from: the repository, or the folder holding its plugins folder.
    roots = list(dict.fromkeys([ROOT, os.path.dirname(os.path.dirname(plugin_dir))]))
    module = str(_plugin_config(plugin_dir).get("module", ""))
    found_module = _module_file(module, roots) if module else None
    plugin_root = found_module[1] if found_module else roots[-1]
    found = {}
    todo = [(os.path.join(ROOT, "harness", "worker.py"), ROOT)]
    parts = module.split(".") if module else []
    todo += [f for f in (_module_file(".".join(parts[:i]), roots) for i in range(1, len(parts) + 1)) if f]
    for dirpath, dirnames, names in os.walk(plugin_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(names):
            if not name.endswith((".pyc", ".pyo")):
                todo.append((os.path.join(dirpath, name), plugin_root))
    while todo:
        path, root = todo.pop()
        if path in found:
            continue
        found[path] = root
        if not path.endswith(".py"):
            continue
        if os.path.basename(path) == "__init__.py" and _discovers_its_modules(path):
            folder = os.path.dirname(path)  # a registry that finds its modules by name: all of them run
            todo += [(os.path.join(folder, name), root) for name in sorted(os.listdir(folder)) if name.endswith(".py")]
        for name in _imported_names(path):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # a.b.c runs a/__init__.py and a/b/__init__.py too
                module = _module_file(".".join(parts[:i]), roots)
                if module and module[0] not in found:
                    todo.append(module)
    if uses_native(plugin_dir):
        found.update({path: ROOT for path in native_files()})
    return sorted(found.items())


def code_hash(plugin_dir):
    """Hash of exactly the code a run executes (worker_files)."""
    h = hashlib.sha256()
    for path, root in worker_files(plugin_dir):
        h.update(os.path.relpath(path, root).encode())
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def package_versions(packages):
    from importlib import metadata
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def total_memory():
    """This machine's memory in bytes (MemTotal), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def process_start_time(pid):
    """When a process started (clock ticks since boot, as text), or None if there is no such
    process: with the pid, it names one process even after pids are reused."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def die_with_parent():
    """A local worker asks the kernel to kill it when run.py dies (even by SIGKILL), and exits if
    run.py is already gone. Linux only; elsewhere a no-op."""
    parent = os.environ.get("FILTERBENCH_PARENT_PID")
    if not parent or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != int(parent):
        os._exit(1)


def restrict_cpus():
    """--cpus with --local: the worker binds itself to those CPUs (FILTERBENCH_CPUS)."""
    cpus = os.environ.get("FILTERBENCH_CPUS")
    if cpus:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
