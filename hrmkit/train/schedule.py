"""Learning-rate schedule of the HRM recipe: linear warm-up, then half a cosine down to lr_min_ratio x lr.

`step` counts optimiser updates from 1 (the first update uses lr * 1 / warmup), as the authors' loop does.
With lr_min_ratio 1.0 (the authors' default) the rate is constant after warm-up.
"""

from __future__ import annotations

import math


def lr_at(step: int, base_lr: float, warmup_steps: int, total_steps: int, min_ratio: float = 1.0) -> float:
    if step < warmup_steps:
        return base_lr * step / max(1, warmup_steps)
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    progress = min(progress, 1.0)
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
