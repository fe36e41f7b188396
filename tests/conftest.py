"""Shared test set-up: no internet, no analytics, and where the public puzzle data lives."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

REPO = Path(__file__).resolve().parents[1]
# ../shared beside the checkout (CI lays a copy there); HRMKIT_SHARED overrides.
SHARED = Path(os.environ.get("HRMKIT_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip(f"public puzzle data not found at {path} (set HRMKIT_SHARED)")
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    path = SHARED / "reference" / "official-hrm-tiny"
    if not path.is_dir():
        pytest.skip(f"reference checkpoint not found at {path} (set HRMKIT_SHARED)")
    return path
