"""Facts about the machine and the code that every result records, and memory readings."""
import glob
import hashlib
import os
import platform

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


def uses_native(plugin_dir):
    """Whether the plugin's config.yml says `native: true`: it runs code compiled from native/."""
    import yaml
    path = os.path.join(plugin_dir, "config.yml")
    if not os.path.exists(path):
        return False
    with open(path) as f:
        raw = yaml.safe_load(f)
    return isinstance(raw, dict) and bool(raw.get("native", False))


def native_files():
    """The sources of the native extension (native/): its Python loader, build files and C++."""
    folder = os.path.join(ROOT, "native")
    return sorted(p for p in glob.glob(os.path.join(folder, "**"), recursive=True)
                  if os.path.isfile(p) and "__pycache__" not in p and ".egg-info" not in p
                  and not p.startswith(os.path.join(folder, "build") + os.sep))


def code_hash(plugin_dir):
    """Hash of the code a run executes: the harness, the plugin API, the plugin's folder, and
    native/ for plugins that use it."""
    h = hashlib.sha256()
    files = sorted(glob.glob(os.path.join(ROOT, "harness", "*.py")))
    files += [os.path.join(ROOT, "algorithms", "base.py")]
    files += native_files() if uses_native(plugin_dir) else []
    files += sorted(p for p in glob.glob(os.path.join(plugin_dir, "**"), recursive=True)
                    if os.path.isfile(p) and "__pycache__" not in p)
    for path in files:
        h.update(os.path.relpath(path, os.path.dirname(plugin_dir) if path.startswith(plugin_dir) else ROOT).encode())
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
