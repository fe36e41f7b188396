"""hrmkit: Hierarchical Reasoning Models (HRM, TRM) for puzzle reasoning.

``hrmkit.load(path_or_zoo_name)`` returns a model in eval mode with ``.config``.
"""

__version__ = "0.1.0"

from hrmkit.errors import HrmkitError  # noqa: E402

__all__ = ["HrmkitError", "__version__", "load"]


def __getattr__(name):
    # `load` pulls in torch: import it on first use so `import hrmkit` (and the CLI's start) stays light.
    if name == "load":
        from hrmkit.api import load

        return load
    raise AttributeError(f"module 'hrmkit' has no attribute {name!r}")
