"""Type coercion shared by the config dataclasses (model and training): YAML/JSON give 4 for 4.0 and "1e-5" for
1e-5, so each field is coerced to its declared type, and a value that does not fit is one clear error (a float
field refuses nan and inf)."""

from __future__ import annotations

import math
from dataclasses import fields

from hrmkit.errors import HrmkitError

_KINDS = {"int": int, "float": float, "bool": bool, "str": str}


def coerce_fields(instance, what: str) -> None:
    """Coerce every field of a dataclass `instance` (annotations as strings) to its declared type, in place."""
    for f in fields(instance):
        value = getattr(instance, f.name)
        kind = _KINDS[str(f.type)]
        if kind is bool:
            if not isinstance(value, bool):
                raise HrmkitError(f"{what}: {f.name} must be true or false, got {value!r}")
            continue
        try:
            coerced = kind(value)
        except (TypeError, ValueError):
            raise HrmkitError(f"{what}: {f.name} must be {kind.__name__}, got {value!r}") from None
        if kind is int and coerced != value:
            raise HrmkitError(f"{what}: {f.name} must be an integer, got {value!r}")
        if kind is float and not math.isfinite(coerced):
            raise HrmkitError(f"{what}: {f.name} must be a finite number, got {value!r}")
        setattr(instance, f.name, coerced)


def from_mapping(klass, data: dict, source: str, unknown: str):
    """`klass(**data)` with unknown keys refused (`unknown` formats their list) and errors prefixed by `source`."""
    extra = sorted(set(data) - {f.name for f in fields(klass)})
    if extra:
        raise HrmkitError(f"{source}: " + unknown.format(", ".join(extra)))
    try:
        return klass(**data)
    except HrmkitError as err:
        message = str(err)
        if message.startswith(f"{source}: "):  # the class already said where (its own default name)
            raise
        raise HrmkitError(f"{source}: {message}") from None
