"""FilterBench's native code: the compiled extension `filterbench_native` (ACORN, UNG, CAPS, iRangeGraph), built
from native/src and the shared headers in native/include/filterbench (distance kernels, filter
maps, visited lists, heaps, parallel loops, index files, label sets).

    pip install ./native        # requirements.txt does it; FILTERBENCH_MARCH=x86-64-v3 pins the CPU level

load() imports it and refuses a build made from other sources than these, so an edit to the
C++ is never measured with an old binary.
"""
import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def source_hash(root=HERE):
    """Hash of the C++ sources and headers (the same function setup.py bakes into the build)."""
    h = hashlib.sha256()
    for folder in ("include", "src"):
        for dirpath, dirnames, names in sorted(os.walk(os.path.join(root, folder))):
            dirnames.sort()
            for name in sorted(names):
                if name.endswith((".h", ".cpp")):
                    path = os.path.join(dirpath, name)
                    h.update(os.path.relpath(path, root).encode())
                    with open(path, "rb") as f:
                        h.update(f.read())
    return h.hexdigest()[:16]


def load():
    try:
        import filterbench_native
    except ImportError:
        raise ImportError("the native extension filterbench_native is not installed: run pip install ./native") from None
    if filterbench_native.source_hash != source_hash():
        raise ImportError("filterbench_native was compiled from other sources than native/ holds now: "
                          "run pip install ./native")
    return filterbench_native
