"""Build the native runtime (rt/) at install time.

pyproject.toml holds the project's metadata; this file only adds the C part,
which setuptools cannot declare there: the runtime as a shared library that the
JIT loads through ctypes (`daisy/rt/_daisyrt*.so`), and the same objects as a
static library (`daisy/rt/libdaisyrt.a`) that `daisy compile` links into
standalone executables.  Only gcc (or cc) is needed: no prebuilt binaries.
"""
import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

RT_SOURCES = [
    "rt/rt_heap.c",
    "rt/rt_gc.c",
    "rt/rt_spark.c",
    "rt/rt_task.c",
    "rt/rt_ctx.c",
    "rt/rt_print.c",
    "rt/rt_prims.c",
    "rt/rt_formeval.c",
    "rt/rt_streams.c",
    "rt/rt_program.c",
    "rt/rt_selftest.c",
    "rt/rt_bench.c",
    "rt/rt_jit.c",
    "rt/rt_trace.c",
]


class BuildRuntime(build_ext):
    """Build the extension, then archive its objects as libdaisyrt.a beside it."""

    def build_extension(self, ext):
        super().build_extension(ext)
        objects = self.compiler.object_filenames(ext.sources, output_dir=self.build_temp)
        out_dir = os.path.dirname(self.get_ext_fullpath(ext.name))
        self.compiler.create_static_lib(objects, "daisyrt", output_dir=out_dir)


setup(
    ext_modules=[
        Extension(
            "daisy.rt._daisyrt",
            sources=RT_SOURCES,
            depends=["rt/daisy_rt.h", "rt/rt_internal.h"],
            extra_compile_args=["-std=c11", "-O2", "-pthread", "-fno-strict-aliasing",
                                "-Wall", "-Wextra", "-Wno-unused-parameter"],
            extra_link_args=["-pthread"],
        )
    ],
    cmdclass={"build_ext": BuildRuntime},
)
