"""Builds the optional C kernels of hrmkit and puts the model registry into the package (metadata lives in
pyproject.toml).

hrmkit/puzzles/_sudoku_fast.c speeds up the Sudoku solver and canonical form; when it cannot be compiled
(no C compiler) the install goes on and hrmkit uses the pure-Python kernels.

The registry has one copy in git, the repository's `zoo/` (entries `*.yaml` and the card template
`MODEL_CARD.md`); `build_py` copies it to `hrmkit/zoo/registry/` of the build, so a wheel carries it (MANIFEST.in
puts `zoo/` into the sdist the wheel may be built from). An editable install reads `zoo/` in place
(hrmkit.zoo.registry.shipped_dir).
"""

import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ZOO = Path("zoo")  # relative to the project folder, where every build runs
REGISTRY = ("hrmkit", "zoo", "registry")  # its place inside the package


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


def zoo_files() -> list[Path]:
    """The registry's files: every entry and the model-card template. A build without them stops."""
    entries = sorted(ZOO.glob("*.yaml"))
    template = ZOO / "MODEL_CARD.md"
    if not entries or not template.is_file():
        raise SystemExit(f"error: {ZOO.resolve()} must hold the registry (*.yaml and MODEL_CARD.md); "
                         "build hrmkit from a full checkout or its sdist")
    return [*entries, template]


class BuildPyWithZoo(build_py):
    """build_py, then `zoo/` copied to `hrmkit/zoo/registry/` of the build (replacing what an earlier build left)."""

    def _zoo_mapping(self) -> dict[str, str]:
        target = Path(self.build_lib, *REGISTRY)
        return {str(target / src.name): str(src) for src in zoo_files()}

    def run(self):
        super().run()
        if self.editable_mode:  # nothing is copied: an editable hrmkit reads zoo/ in the checkout
            return
        target = Path(self.build_lib, *REGISTRY)
        if not self.dry_run:
            if target.exists():
                shutil.rmtree(target)  # an entry removed from zoo/ must not ship from an old build/lib
            target.mkdir(parents=True)
        for dest, src in self._zoo_mapping().items():
            self.copy_file(src, dest)

    def get_output_mapping(self) -> dict[str, str]:
        return dict(sorted({**super().get_output_mapping(), **self._zoo_mapping()}.items()))

    def get_outputs(self, include_bytecode=True):
        if self.editable_mode:  # setuptools builds it from get_output_mapping
            return super().get_outputs(include_bytecode)
        return [*super().get_outputs(include_bytecode), *self._zoo_mapping()]


setup(
    ext_modules=[
        Extension("hrmkit.puzzles._sudoku_fast", ["hrmkit/puzzles/_sudoku_fast.c"], extra_compile_args=["-O3"])
    ],
    cmdclass={"build_ext": OptionalBuildExt, "build_py": BuildPyWithZoo},
)
