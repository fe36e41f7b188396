"""Random-obstacle mazes (the Maze-Hard kind) and models that run on grids of any size (attn_mask: grid)."""

from collections import deque

import numpy as np
import pytest
import torch

from hrmkit.errors import HrmkitError
from hrmkit.models.attention import GridAttention, grid_neighbours, grid_offsets
from hrmkit.models.config import HRMConfig, TRMConfig
from hrmkit.models.hrm import HRM
from hrmkit.models.trm import TRM
from hrmkit.puzzles import maze

pytestmark = pytest.mark.usefixtures("one_thread")


def bfs_length(puzzle: np.ndarray) -> tuple[int, int]:
    """(shortest S-G moves, number of shortest paths) by a plain BFS written independently of hrmkit's."""
    h, w = puzzle.shape
    (sr, sc), = np.argwhere(puzzle == maze.START)
    (gr, gc), = np.argwhere(puzzle == maze.GOAL)
    dist = {(sr, sc): 0}
    ways = {(sr, sc): 1}
    queue = deque([(sr, sc)])
    while queue:
        r, c = queue.popleft()
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= nr < h and 0 <= nc < w and puzzle[nr, nc] != maze.WALL:
                if (nr, nc) not in dist:
                    dist[(nr, nc)] = dist[(r, c)] + 1
                    ways[(nr, nc)] = ways[(r, c)]
                    queue.append((nr, nc))
                elif dist[(nr, nc)] == dist[(r, c)] + 1:
                    ways[(nr, nc)] += ways[(r, c)]
    return dist.get((gr, gc), -1), ways.get((gr, gc), 0)


@pytest.mark.parametrize("n, min_length", [(8, 10), (15, 30), (30, 110)])
def test_obstacle_generator_meets_the_path_filter_by_an_independent_bfs(n, min_length):
    puzzles, solutions = maze.generate_batch(12 if n < 30 else 4, n, min_length, seed=n, style="obstacles")
    for puzzle, solution in zip(puzzles, solutions):
        length, ways = bfs_length(puzzle)
        assert length >= min_length and ways == 1
        assert int((solution == maze.PATH).sum()) == length - 1  # the label is that path
        assert maze.verify(puzzle, solution)
        walls = (puzzle == maze.WALL).mean()
        assert 0.05 < walls < 0.8  # a grid of obstacles, not a corridor
        assert not (puzzle == maze.PATH).any()


def test_obstacle_generator_is_seeded_and_prefix_stable():
    a = maze.generate_batch(5, 12, 20, seed=3, style="obstacles")
    b = maze.generate_batch(3, 12, 20, seed=3, style="obstacles")
    assert np.array_equal(a[0][:3], b[0]) and np.array_equal(a[1][:3], b[1])
    c = maze.generate_batch(3, 12, 20, seed=4, style="obstacles")
    assert not np.array_equal(a[0][:3], c[0])


def test_obstacle_generator_refuses_impossible_requests():
    with pytest.raises(HrmkitError, match="cannot hold a shortest path"):
        maze.generate(6, 40, rng=np.random.default_rng(0), style="obstacles")
    with pytest.raises(HrmkitError, match="style"):
        maze.generate(6, 4, rng=np.random.default_rng(0), style="spiral")
    with pytest.raises(HrmkitError, match="density"):
        maze.generate(6, 4, rng=np.random.default_rng(0), style="obstacles", density=1.5)


def test_wrong_paths_are_rejected_on_obstacle_mazes():
    (puzzle,), (solution,) = maze.generate_batch(1, 15, 30, seed=7, style="obstacles")
    assert maze.verify(puzzle, solution)
    path = np.argwhere(solution == maze.PATH)
    cut = solution.copy()
    cut[tuple(path[len(path) // 2])] = maze.OPEN  # a gap in the path
    assert not maze.verify(puzzle, cut)
    through_wall = solution.copy()
    wall = np.argwhere(puzzle == maze.WALL)[0]
    through_wall[tuple(wall)] = maze.PATH  # a wall painted as path
    assert not maze.verify(puzzle, through_wall)
    longer = solution.copy()
    spare = np.argwhere((puzzle == maze.OPEN) & (solution != maze.PATH))[0]
    longer[tuple(spare)] = maze.PATH  # one cell too many: not a shortest path
    assert not maze.verify(puzzle, longer)


def test_grid_neighbours_follow_the_offsets():
    offsets = grid_offsets(2)
    assert offsets[0] == (0, 0) and len(offsets) == 13 and all(abs(a) + abs(b) <= 2 for a, b in offsets)
    index, valid = grid_neighbours(5, 2)
    for cell in range(25):
        r, c = divmod(cell, 5)
        for k, (dy, dx) in enumerate(offsets):
            inside = 0 <= r + dy < 5 and 0 <= c + dx < 5
            assert bool(valid[cell, k]) == inside
            assert int(index[cell, k]) == ((r + dy) * 5 + c + dx if inside else 25)


def test_grid_attention_equals_a_dense_masked_reference():
    torch.manual_seed(0)
    att = GridAttention(16, 2, radius=1)
    x = torch.randn(3, 36, 16)
    got = att(x)
    # dense reference: the same scores on a full [L, L] matrix, -inf outside the neighbourhood
    B, L, D = x.shape
    q, k, v = att.qkv_proj(x).view(B, L, 3, 2, 8).unbind(2)
    index, valid = grid_neighbours(6, 1)
    out = torch.zeros(B, L, 2, 8)
    for i in range(L):
        keys = [int(j) for j, ok in zip(index[i], valid[i]) if ok]
        offs = [kk for kk, ok in enumerate(valid[i]) if ok]
        s = torch.stack([(q[:, i] * (k[:, j] + att.rel_k[o])).sum(-1) for j, o in zip(keys, offs)], -1) / 8 ** 0.5
        p = s.softmax(-1)  # (B, H, n)
        vals = torch.stack([v[:, j] + att.rel_v[o] for j, o in zip(keys, offs)], -2)  # (B, H, n, hd)
        out[:, i] = (p.unsqueeze(-1) * vals).sum(-2)
    assert torch.allclose(got, att.o_proj(out.reshape(B, L, D)), atol=1e-5)


def _grid_config(cls, **kw):
    return cls(vocab_size=6, seq_len=64, hidden_size=32, num_heads=2, L_layers=1, H_cycles=2, L_cycles=2,
               halt_max_steps=3, pos_encodings="none", attn_mask="grid", attn_radius=2, loss_on="blanks",
               blank_token_id=2, halting="fixed", q_pool="mean", puzzle_emb_ndim=0, **kw)


@pytest.mark.parametrize("cls, model_cls", [(HRMConfig, HRM), (TRMConfig, TRM)])
def test_a_model_built_for_one_grid_size_runs_on_others(cls, model_cls):
    torch.manual_seed(0)
    model = model_cls(_grid_config(cls, **({"H_layers": 1} if cls is HRMConfig else {})))
    (puzzle,), _ = maze.generate_batch(1, 8, 10, seed=1, style="obstacles")
    for side in (8, 13, 21):
        canvas = np.zeros((side, side), np.uint8)  # the 8x8 maze inside walls of a bigger grid
        canvas[:8, :8] = puzzle
        tokens = torch.as_tensor(maze.to_tokens(canvas), dtype=torch.long)[None]
        out = model.trace(tokens, steps=2)
        assert out["logits"].shape == (2, 1, side * side, 6)
        answer = out["logits"][-1, 0].argmax(-1).numpy()
        given = tokens[0].numpy() != 2
        assert np.array_equal(answer[given], tokens[0].numpy()[given])  # givens kept at every size
    with pytest.raises(HrmkitError, match="square"):
        model.trace(torch.full((1, 50), 2))


def test_grid_config_checks():
    with pytest.raises(HrmkitError, match="pos_encodings none"):
        HRMConfig(seq_len=64, attn_mask="grid", pos_encodings="rope")
    with pytest.raises(HrmkitError, match="square"):
        HRMConfig(seq_len=60, attn_mask="grid", pos_encodings="none", puzzle_emb_ndim=0)
    with pytest.raises(HrmkitError, match="blank_token_id"):
        HRMConfig(vocab_size=6, seq_len=64, blank_token_id=6)
    cfg = _grid_config(HRMConfig, H_layers=1)
    assert HRMConfig.from_dict(cfg.to_dict()) == cfg and cfg.any_size


def test_solve_runs_an_any_size_model_on_mazes_of_several_sizes(tmp_path):
    """A copying model (its answer is its input) built on an 8x8 canvas: a maze whose S touches G needs no path
    cells, so the copy is a shortest path (verified) at any size; a maze with a longer path is wrong."""
    import json as _json

    from typer.testing import CliRunner

    from _helpers import copy_model
    from hrmkit.cli import app

    model = copy_model(tmp_path / "m", vocab_size=6, seq_len=64, pos_encodings="none", attn_mask="grid")
    adjacent = "#######\n#SG   #\n# ### #\n#     #\n#######"
    wide = "\n".join(["#" * 12] + ["#S" + " " * 9 + "#"] + ["#" + " " * 10 + "#"] * 9 + ["#" + " " * 9 + "G#", "#" * 12])
    small_long = "#####\n#S  #\n### #\n#G  #\n#####"
    (tmp_path / "mazes.txt").write_text("\n\n".join([adjacent, wide, small_long, adjacent.replace("#SG ", "#GS ")]) + "\n")
    result = CliRunner().invoke(app, ["solve", str(tmp_path / "mazes.txt"), "--model", str(model), "--json",
                                      "--max-steps", "2"])
    assert result.exit_code == 0, result.output
    rows = [_json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["status"] for r in rows] == ["verified", "wrong", "wrong", "verified"]
    assert [r["index"] for r in rows] == sorted(r["index"] for r in rows)  # input order, whatever the sizes


def test_data_build_with_test_mazes_of_another_size_round_trips(tmp_path):
    """--test-size: train and test splits on their own canvases; each example decodes to a verified maze."""
    from typer.testing import CliRunner

    from hrmkit.cli import app
    from hrmkit.data.format import open_dataset
    from hrmkit.data.loader import PuzzleDataset

    out = tmp_path / "d"
    result = CliRunner().invoke(app, ["data", "build", "maze", "--source", "generate", "--count", "6", "--size", "9",
                                      "--min-length", "10", "--style", "obstacles", "--test-source", "generate",
                                      "--test-count", "3", "--test-size", "14", "--test-min-length", "30",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    ds = open_dataset(out)
    for split, side, min_length in (("train", 9, 10), ("test", 14, 30)):
        data = PuzzleDataset(ds.split(split))
        assert data.meta.seq_len == side * side and list(data.meta.grid) == [side, side]
        batch = data.batch(np.arange(data.meta.num_examples))
        for inputs, labels in zip(batch["inputs"], batch["labels"]):
            puzzle = maze.from_tokens(inputs, (side, side))
            solution = maze.from_tokens(labels, (side, side))
            assert maze.verify(puzzle, solution) and bfs_length(puzzle)[0] >= min_length
    validated = CliRunner().invoke(app, ["data", "validate", str(out)])
    assert validated.exit_code == 0, validated.output
