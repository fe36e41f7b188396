"""The one error type users see: every failure a user can cause raises HrmkitError with a plain message."""


class HrmkitError(Exception):
    """A user-facing failure (bad file, bad config, missing data, hash mismatch, no network).

    The CLI prints ``str(err)`` to stderr and exits with code 1; no traceback.
    """


def where(path, line: int | None = None) -> str:
    """`file:line` prefix for messages about input files."""
    return f"{path}:{line}" if line is not None else str(path)
