"""The model zoo: the registry of published models (`registry`), the Hub client (`hubclient`, `pulling`,
`pinning`, `publishing`; `hub` names them all), model cards (`card`), and the converter of the authors'
checkpoints (`official`).

    hrmkit.zoo.resolve("sudoku-extreme")   # -> Path of a model directory, pulled on first use
"""

from hrmkit.zoo.publishing import publish
from hrmkit.zoo.pulling import pull, resolve
from hrmkit.zoo.registry import ZooEntry, get, load_registry

__all__ = ["ZooEntry", "get", "load_registry", "publish", "pull", "resolve"]
