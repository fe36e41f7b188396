"""Check a model folder's weights file against its config.json from the safetensors header alone, before any
tensor is allocated: a hostile or mistaken config (``hidden_size: 200000`` over small weights) is refused
without building the model, and a truncated file is named as such.

The header is the file's first 8 bytes (little-endian length N) and N bytes of JSON: for each tensor its dtype,
shape and byte range in the data that follows. The model the config describes is built on the meta device (no
memory) to know the shapes it needs.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch

from hrmkit.errors import HrmkitError

MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit
FLOAT_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}
DTYPE_SIZES = {**FLOAT_DTYPES, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1,
               "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8}


def read_header(path: str | Path) -> dict[str, dict]:
    """The tensor entries of a safetensors file's header ({name: {dtype, shape, data_offsets}}), checked for
    consistency with the file's size (a truncated or padded file, overlapping ranges, a size that does not fit
    dtype x shape) so that loading it cannot fail halfway."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise HrmkitError(f"{path}: not a safetensors file ({size} bytes; truncated?)")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER or 8 + n > size:
                raise HrmkitError(f"{path}: not a readable safetensors file (header of {n} bytes in a file of "
                                  f"{size}; truncated?)")
            header = json.loads(f.read(n))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HrmkitError(f"{path}: not a readable safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise HrmkitError(f"{path}: not a readable safetensors file (its header is not a JSON object)")
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    data_size = size - 8 - n
    end = 0
    for name, info in sorted(tensors.items(), key=lambda kv: _offsets(kv[1], path, kv[0])[0]):
        lo, hi = _offsets(info, path, name)
        dtype, shape = info.get("dtype"), info.get("shape")
        if dtype not in DTYPE_SIZES or not isinstance(shape, list) or not all(
                isinstance(d, int) and d >= 0 for d in shape):
            raise HrmkitError(f"{path}: tensor {name}: bad dtype or shape in the header ({dtype}, {shape})")
        count = 1
        for d in shape:
            count *= d
        if hi - lo != count * DTYPE_SIZES[dtype]:
            raise HrmkitError(f"{path}: tensor {name}: {hi - lo} bytes for {dtype} {shape} "
                              f"({count * DTYPE_SIZES[dtype]} needed)")
        if lo != end:
            raise HrmkitError(f"{path}: tensor {name}: its bytes do not follow the previous tensor's")
        end = hi
    if end != data_size:
        state = "truncated" if end > data_size else "has trailing bytes"
        raise HrmkitError(f"{path}: {state}: the header describes {end} bytes of tensors, the file holds "
                          f"{data_size}")
    return tensors


def _offsets(info, path: Path, name: str) -> tuple[int, int]:
    offsets = info.get("data_offsets") if isinstance(info, dict) else None
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise HrmkitError(f"{path}: tensor {name}: bad data_offsets in the header")
    return offsets[0], offsets[1]


def expected_shapes(model_class, config) -> dict[str, tuple[int, ...]]:
    """The state-dict shapes of ``model_class(config)``, built on the meta device (no memory, no init)."""
    with torch.device("meta"):
        model = model_class(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def check_names(expected, found, source: str) -> None:
    """One error naming the tensors the config expects but the weights lack, and those it does not know."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:5])}{' ...' if len(unexpected) > 5 else ''}")
        raise HrmkitError(f"{source}: weights do not match the config: {'; '.join(parts)}")


def check_weights(path: str | Path, model_class, config, config_path: str | Path | None = None) -> dict:
    """Refuse weights whose header does not match the model the config describes (names, shapes, float dtypes),
    before anything is allocated. Returns the header's tensor entries."""
    path = Path(path)
    tensors = read_header(path)
    expected = expected_shapes(model_class, config)
    source = f"{path} (with {config_path})" if config_path else str(path)
    check_names(expected, tensors, source)
    for name, info in tensors.items():
        if tuple(info["shape"]) != expected[name]:
            raise HrmkitError(f"{source}: {name} has shape {info['shape']} in the file, the config needs "
                              f"{list(expected[name])}")
        if info["dtype"] not in FLOAT_DTYPES:
            raise HrmkitError(f"{source}: {name} is {info['dtype']}, expected floating point")
    return tensors
