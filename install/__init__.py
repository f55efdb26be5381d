"""Docker images: one base image, and one image per plugin folder.

    filterbench-rootfs:bookworm   Debian bookworm from debootstrap (only where no registry answers)
    filterbench-base:latest       install/base.Dockerfile: Python, the worker's dependencies, user bench
    filterbench-<plugin>:latest   install/plugin.Dockerfile (or install/<plugin>.Dockerfile): the
                                  plugin's libraries, the harness and the plugin code
    filterbench-trainer:latest    install/trainer.Dockerfile: torch + torchvision, which train the
                                  ResNet of the fashion-mnist dataset (built on first use)

Each image is labelled with the hash of everything it is built from (filterbench.inputs) and
is rebuilt only when that changes; plugin images also carry the hash of the code they run
(filterbench.code_hash), which the runner checks against the code on the host.
"""
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

from harness.system import code_hash, worker_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "install")
ROOTFS = "filterbench-rootfs:bookworm"
REGISTRY_BASE = "debian:bookworm-slim"
BASE = "filterbench-base"
TRAINER = "filterbench-trainer"
WORKER_PACKAGES = ["numpy", "h5py", "PyYAML", "threadpoolctl"]  # what harness.worker imports
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class InstallError(Exception):
    pass


def pinned(packages, plugin_dir=None):
    """requirements.txt lines for these package names: the project's requirements.txt pins every
    version, except where a plugin's own requirements.txt pins one its library cannot share with
    the project (filtered-diskann: diskannpy pins numpy 1.25); that pin wins in its image."""
    pins = {}
    for path in [os.path.join(ROOT, "requirements.txt")] + \
            ([os.path.join(plugin_dir, "requirements.txt")] if plugin_dir else []):
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                name = re.split(r"[=<>!~\[ ]", line.strip(), 1)[0]
                if name and not line.startswith("#"):
                    pins[name.lower()] = line.strip()
    missing = [p for p in packages if p.lower() not in pins]
    if missing:
        raise InstallError(f"requirements.txt pins no version of {', '.join(missing)}")
    return [pins[p.lower()] for p in packages]


def image_name(plugin):
    return f"filterbench-{plugin}"


def _hash_dir(path, extra=""):
    h = hashlib.sha256(extra.encode())
    for dirpath, dirnames, files in sorted(os.walk(path)):
        dirnames.sort()
        for name in sorted(files):
            full = os.path.join(dirpath, name)
            h.update(os.path.relpath(full, path).encode())
            with open(full, "rb") as f:
                h.update(f.read())
    return h.hexdigest()[:16]


def _common_context(context, requirements, wheels):
    with open(os.path.join(context, "requirements.txt"), "w") as f:
        f.write("\n".join(requirements) + "\n")
    bundle = os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE") or CA_BUNDLE
    shutil.copy(bundle, os.path.join(context, "ca-bundle.crt")) if os.path.exists(bundle) else \
        open(os.path.join(context, "ca-bundle.crt"), "w").close()
    os.makedirs(os.path.join(context, "wheels"))
    for name in sorted(os.listdir(wheels)) if wheels else []:
        if name.endswith(".whl"):
            shutil.copy(os.path.join(wheels, name), os.path.join(context, "wheels", name))


def app_files(plugin_dir):
    """(source, path inside /app) of the code a plugin image runs: exactly what the code hash
    covers (harness.system.worker_files)."""
    return [(path, os.path.relpath(path, root)) for path, root in worker_files(plugin_dir)]


def host_debian_mirror():
    """The Debian mirror that apt on this host uses (no mirror is hard-coded)."""
    candidates = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]
    for path in candidates:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            text = f.read()
        m = re.search(r"^URIs:\s*(\S+/debian)/?\s*$", text, re.M) or \
            re.search(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+/debian)/?\s+bookworm\s", text, re.M)
        if m:
            return m.group(1)
    raise InstallError("found no Debian mirror in /etc/apt/sources.list(.d); pass --mirror URL")


def make_rootfs(client, mirror=None, log=print):
    """Debian bookworm from Debian's own packages, imported as an image: no registry needed."""
    if client.images.list(name=ROOTFS):
        return ROOTFS
    if not shutil.which("debootstrap"):
        raise InstallError("no registry image and no debootstrap: apt-get install debootstrap")
    mirror = mirror or host_debian_mirror()
    log(f"making {ROOTFS} with debootstrap from {mirror} (about a minute)")
    with tempfile.TemporaryDirectory(prefix="filterbench-rootfs-") as rootfs:
        proc = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", rootfs, mirror],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise InstallError(f"debootstrap failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1]}")
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        client.api.import_image_from_stream(tar.stdout, repository=ROOTFS.split(":")[0], tag=ROOTFS.split(":")[1])
        if tar.wait() != 0:
            raise InstallError("tar of the debootstrap root failed")
    return ROOTFS


def base_image_source(client, base, mirror=None, log=print):
    """The FROM of the base image: a registry image ('registry'), one made by debootstrap
    ('debootstrap'), or the registry image when it can be had, else debootstrap ('auto')."""
    if base in ("registry", "auto"):
        if client.images.list(name=REGISTRY_BASE):
            return REGISTRY_BASE
        try:
            client.images.pull(REGISTRY_BASE)
            return REGISTRY_BASE
        except Exception as e:
            if base == "registry":
                raise InstallError(f"cannot pull {REGISTRY_BASE}: {str(e).splitlines()[0]}") from None
            log(f"no registry answers ({REGISTRY_BASE} cannot be pulled): building the base from Debian packages")
    return make_rootfs(client, mirror, log)


def _build(client, tag, context, dockerfile, buildargs, labels, force):
    """Builds unless an image with the same inputs exists; returns 'built' or 'up to date'."""
    existing = client.images.list(name=tag)
    if existing and not force and existing[0].labels.get("filterbench.inputs") == labels["filterbench.inputs"]:
        return "up to date", existing[0]
    shutil.copy(dockerfile, os.path.join(context, "Dockerfile"))
    try:
        image, _ = client.images.build(path=context, tag=tag, buildargs=buildargs, labels=labels,
                                       network_mode="host", rm=True, forcerm=True)
    except Exception as e:  # docker.errors.BuildError carries the failing step's output
        lines = [str(x.get("stream", "")).strip() for x in getattr(e, "build_log", []) if x.get("stream")]
        detail = next((line for line in reversed(lines) if line), str(e).splitlines()[0])
        raise InstallError(f"{tag}: {e.__class__.__name__}: {str(e).splitlines()[0]} ({detail[:300]})") from None
    return "built", image


# What each -march level needs of the CPU that runs the images (flags of /proc/cpuinfo).
MARCH_NEEDS = {"x86-64": [], "x86-64-v2": ["sse4_2", "popcnt"], "x86-64-v3": ["sse4_2", "popcnt", "avx2", "fma", "bmi2"],
               "x86-64-v4": ["sse4_2", "popcnt", "avx2", "fma", "bmi2", "avx512f", "avx512bw", "avx512vl"]}


def check_march(march):
    """Native code in the images targets `march`; refuse one this machine cannot run."""
    from harness.system import cpu_info
    if march not in MARCH_NEEDS:
        raise InstallError(f"--march {march}: choose one of {', '.join(MARCH_NEEDS)}")
    flags = set(cpu_info()["cpu_flags"].split())
    missing = [f for f in MARCH_NEEDS[march] if f not in flags]
    if flags and missing:
        raise InstallError(f"--march {march} needs CPU flags {', '.join(missing)}, which this machine lacks: "
                           f"use --march x86-64-v2")


def build_base(client, base="auto", wheels=None, mirror=None, force=False, march="x86-64-v3", log=print):
    check_march(march)
    source = base_image_source(client, base, mirror, log)
    source_id = client.images.get(source).id
    with tempfile.TemporaryDirectory(prefix="filterbench-base-") as context:
        _common_context(context, pinned(WORKER_PACKAGES), wheels)
        dockerfile = os.path.join(HERE, "base.Dockerfile")
        inputs = _hash_dir(context, extra=open(dockerfile).read() + source_id + march)
        return _build(client, f"{BASE}:latest", context, dockerfile,
                      {"BASE_IMAGE": source, "PIP_OFFLINE": "1" if wheels else "0", "MARCH": march},
                      {"filterbench.inputs": inputs, "filterbench.march": march}, force)


def build_plugin(client, plugin_dir, packages, base_image, wheels=None, force=False):
    plugin = os.path.basename(plugin_dir.rstrip(os.sep))
    own = os.path.join(HERE, f"{plugin}.Dockerfile")
    dockerfile = own if os.path.exists(own) else os.path.join(HERE, "plugin.Dockerfile")
    with tempfile.TemporaryDirectory(prefix=f"filterbench-{plugin}-") as context:
        _common_context(context, pinned(packages, plugin_dir), wheels)
        for src, dst in app_files(plugin_dir):
            os.makedirs(os.path.dirname(os.path.join(context, "app", dst)), exist_ok=True)
            shutil.copy(src, os.path.join(context, "app", dst))
        inputs = _hash_dir(context, extra=open(dockerfile).read() + base_image.id)
        return _build(client, f"{image_name(plugin)}:latest", context, dockerfile,
                      {"BASE_IMAGE": f"{BASE}:latest", "PIP_OFFLINE": "1" if wheels else "0"},
                      {"filterbench.inputs": inputs, "filterbench.code_hash": code_hash(plugin_dir),
                       "filterbench.plugin": plugin}, force)


def build_trainer(client, base="auto", mirror=None, force=False, log=print):
    """The image that trains the fashion study's ResNet (datasets/resnet.py runs in it)."""
    source = base_image_source(client, base, mirror, log)
    dockerfile = os.path.join(HERE, "trainer.Dockerfile")
    with tempfile.TemporaryDirectory(prefix="filterbench-trainer-") as context:
        inputs = _hash_dir(context, extra=open(dockerfile).read() + client.images.get(source).id)
        return _build(client, f"{TRAINER}:latest", context, dockerfile, {"BASE_IMAGE": source},
                      {"filterbench.inputs": inputs}, force)
