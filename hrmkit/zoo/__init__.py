"""The model zoo: the registry of published models, the Hub client (pull, publish), model cards, and the
converter of the authors' checkpoints (`official`).

    hrmkit.zoo.resolve("sudoku-extreme")   # -> Path of a model directory, pulled on first use
"""

from hrmkit.zoo.hub import publish, pull, resolve
from hrmkit.zoo.registry import ZooEntry, get, load_registry

__all__ = ["ZooEntry", "get", "load_registry", "publish", "pull", "resolve"]
