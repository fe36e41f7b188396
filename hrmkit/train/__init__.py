"""Training: the ACT loop (single process or torchrun DDP), optimisers, schedule, checkpoints, EMA.

    from hrmkit.train import TrainConfig, train
    train("runs/demo", "data/sudoku", preset="demo", config=TrainConfig(steps=1000, global_batch_size=64))
"""

from hrmkit.train.config import TrainConfig
from hrmkit.train.loop import train

__all__ = ["TrainConfig", "train"]
