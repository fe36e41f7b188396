"""Print examples of a built data set: Sudoku and mazes as text, ARC as a PNG of input/label pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hrmkit import puzzles
from hrmkit.data.format import open_dataset
from hrmkit.errors import HrmkitError

# the usual ARC palette, colours 0-9
ARC_COLOURS = ["#000000", "#0074D9", "#FF4136", "#2ECC40", "#FFDC00", "#AAAAAA", "#F012BE", "#FF851B", "#7FDBFF",
               "#870C25"]


def pick(n_total: int, n: int, seed: int) -> np.ndarray:
    """``n`` example rows, seeded, in order."""
    n = min(n, n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, n, replace=False))


def show_text(path: str | Path, split: str = "train", n: int = 5, seed: int = 0) -> str:
    """Sudoku or maze examples side by side (input | label), with their row numbers."""
    ds = open_dataset(path)
    s = ds.split(split)
    family, rows = ds.family, pick(len(s.arrays.inputs), n, seed)
    module = puzzles.family(family)
    if module.SHOW == "png":
        raise HrmkitError("ARC examples are drawn as a PNG: use show_png")
    blocks = [f"{path} [{split}] {family}: {s.meta.num_examples} examples, {s.meta.total_groups} groups"]
    for r in rows:
        inp, lab = np.asarray(s.arrays.inputs[r]), np.asarray(s.arrays.labels[r])
        left, right = module.format_tokens(inp, s.meta.grid), module.format_tokens(lab, s.meta.grid, crop_like=inp)
        lines_l, lines_r = left.split("\n"), right.split("\n")
        width = max(len(x) for x in lines_l)
        blocks.append(f"example {r}:\n" + "\n".join(f"{a.ljust(width)}   {b}" for a, b in zip(lines_l, lines_r)))
    return "\n\n".join(blocks)


def show_png(path: str | Path, out: str | Path, split: str = "train", n: int = 5, seed: int = 0) -> Path:
    """ARC examples (input, label) as one PNG, one row per example; written to a temp name then renamed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from hrmkit.puzzles import arc

    ds = open_dataset(path)
    s = ds.split(split)
    rows = pick(len(s.arrays.inputs), n, seed)
    if not len(rows):
        raise HrmkitError(f"{path} [{split}]: no examples")
    ids = np.repeat(np.asarray(s.arrays.puzzle_identifiers), np.diff(np.asarray(s.arrays.puzzle_indices)))
    fig, axes = plt.subplots(len(rows), 2, figsize=(6, 3 * len(rows)), squeeze=False)
    cmap = ListedColormap(ARC_COLOURS)
    for ax_row, r in zip(axes, rows):
        for ax, tokens, what in zip(ax_row, (s.arrays.inputs[r], s.arrays.labels[r]), ("input", "label")):
            canvas = np.asarray(tokens).reshape(30, 30)
            colour = canvas >= arc.COLOUR_OFFSET
            if colour.any():
                r0, c0 = np.argwhere(colour).min(0)
                grid = arc.from_tokens(tokens, (int(r0), int(c0)))
            else:
                grid = None
            if grid is None:
                ax.text(0.5, 0.5, "(no answer)", ha="center", va="center")
            else:
                ax.imshow(grid, cmap=cmap, vmin=0, vmax=9, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"{ds.identifiers[ids[r]]} #{r} {what}", fontsize=7)
    fig.tight_layout()
    out = Path(out)
    from hrmkit.atomic import atomic_path

    try:
        with atomic_path(out, replace=True) as tmp:
            fig.savefig(tmp, format="png", dpi=80)
    finally:
        plt.close(fig)
    return out
