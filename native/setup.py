"""Builds filterbench_native. FILTERBENCH_MARCH sets the CPU level (-march); default native."""
import importlib.util
import os

from pybind11.setup_helpers import Pybind11Extension
from setuptools import setup
from setuptools.command.build_ext import build_ext


class AlwaysCompile(build_ext):
    """setuptools reuses objects whose .cpp is older than them, blind to edited headers and to the
    source hash compiled in: always compile."""

    def finalize_options(self):
        super().finalize_options()
        self.force = True


HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("filterbench_native_sources", os.path.join(HERE, "__init__.py"))
sources = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sources)
MARCH = os.environ.get("FILTERBENCH_MARCH", "native")

setup(
    name="filterbench-native",
    version="0.1.0",
    packages=[],
    cmdclass={"build_ext": AlwaysCompile},
    ext_modules=[Pybind11Extension(
        "filterbench_native",
        sorted(os.path.join("src", f) for f in os.listdir(os.path.join(HERE, "src")) if f.endswith(".cpp")),
        include_dirs=["include", "src"],
        cxx_std=17,
        extra_compile_args=["-O3", f"-march={MARCH}", "-fopenmp-simd",
                            f'-DFB_SOURCE_HASH="{sources.source_hash(HERE)}"', f'-DFB_MARCH="{MARCH}"'],
        extra_link_args=["-pthread"],
    )],
)
