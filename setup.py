"""Builds the optional C kernels of hrmkit (metadata lives in pyproject.toml).

hrmkit/puzzles/_sudoku_fast.c speeds up the Sudoku solver and canonical form; when it cannot be compiled
(no C compiler) the install goes on and hrmkit uses the pure-Python kernels.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Compile the extensions if a compiler is there; otherwise warn and fall back to pure Python."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler failure means "use the fallback"
            print(f"warning: hrmkit C kernels not built ({exc}); using the pure-Python fallback")

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            print(f"warning: {ext.name} not built ({exc}); using the pure-Python fallback")


setup(
    ext_modules=[
        Extension("hrmkit.puzzles._sudoku_fast", ["hrmkit/puzzles/_sudoku_fast.c"], extra_compile_args=["-O3"])
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
