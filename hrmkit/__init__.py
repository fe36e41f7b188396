"""hrmkit: Hierarchical Reasoning Models (HRM, TRM) for puzzle reasoning."""

__version__ = "0.1.0"

from hrmkit.errors import HrmkitError  # noqa: E402

__all__ = ["HrmkitError", "__version__"]
