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


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models on a shared 2-core machine: one torch thread per test run avoids OpenMP threads spinning
    against other processes (~20x faster than oversubscribed). Module-scoped, so a module that opts in with
    ``pytestmark = pytest.mark.usefixtures("one_thread")`` gets it before its own module-scoped fixtures."""
    import torch  # here, not at the top: most test modules never load torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
