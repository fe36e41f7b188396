"""Shared test set-up: no internet, no analytics, where the public puzzle data lives, and the fixtures that
several test modules use (plain builders and constants are in tests/_helpers.py)."""

import json
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


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A small model directory as a training run leaves it, with an evaluation report beside it."""
    import torch

    from hrmkit.models import ModelConfig, build

    torch.manual_seed(0)
    model = build(ModelConfig.from_name("tiny"))
    run = tmp_path / "run"
    model.save_pretrained(run)
    (run / "metrics.json").write_text(json.dumps({"exact_accuracy": 0.25, "token_accuracy": 0.8, "loss": 1.5}))
    return run


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A data folder holding only the provenance.json of a Sudoku build from the Hub (for the model card)."""
    data = tmp_path / "data"
    data.mkdir()
    provenance = {"family": "sudoku", "seed": 7, "subsample": 1000,
                  "source": {"spec": "hf:sapientinc/sudoku-extreme", "kind": "hf", "repo": "sapientinc/sudoku-extreme",
                             "revision": "f" * 40, "files": {"train": {"path": "train.csv", "sha256": "c" * 64}}},
                  "outputs": {"train/all__inputs.npy": "d" * 64}}
    (data / "provenance.json").write_text(json.dumps(provenance))
    return data
