"""What a training run counts and logs: epochs -> steps as the authors count, learning_curves.png (drawn offline)
and the metric series it is drawn from, eval_steps for the evaluation during training, and compiled training
(same weight names and losses as eager; slow)."""

import json
from types import SimpleNamespace

import pytest

from _helpers import TINY, make_dataset
from hrmkit.errors import HrmkitError
from hrmkit.train.config import TrainConfig
from hrmkit.train.loop import read_series, total_steps, train


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_epochs_to_steps_as_the_authors():
    meta = SimpleNamespace(total_groups=1000, mean_puzzle_examples=1.0)  # Sudoku-Extreme 1k (1 example/puzzle)
    assert total_steps(TrainConfig(epochs=20000, global_batch_size=768), meta) == 26041  # int(26041.67)
    assert total_steps(TrainConfig(epochs=20000, global_batch_size=768, steps=5), meta) == 5  # steps win
    arc = SimpleNamespace(total_groups=960, mean_puzzle_examples=1.5)
    assert total_steps(TrainConfig(epochs=3, global_batch_size=7), arc) == int(3 * 960 * 1.5 / 7) == 617
    with pytest.raises(HrmkitError, match="under one step; raise epochs or set steps"):
        total_steps(TrainConfig(epochs=1, global_batch_size=768), SimpleNamespace(total_groups=16,
                                                                                  mean_puzzle_examples=1.0))


def test_learning_curves_png_at_checkpoints_and_end(tmp_path):
    data = make_dataset(tmp_path / "data", n_train=40, n_test=8)
    live = tmp_path / "live"
    seen = {}

    def check(step, _metrics):
        if step == 3:  # the checkpoint at step 2 drew it already
            seen["png_at_3"] = (live / "learning_curves.png").read_bytes()[:4]

    # epochs 1.2 x 40 groups x 1 example / batch 8 = 6 steps (the authors' count)
    cfg = TrainConfig(global_batch_size=8, epochs=1.2, warmup_steps=1, lr=1e-3, log_every=1, seed=0, device="cpu",
                      checkpoint_every=2, eval_every=2)
    train(tmp_path / "run", data, preset="tiny", config=cfg, model_overrides=TINY, live_dir=live, progress=False,
          callback=check)
    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert state["step"] == state["total_steps"] == 6
    assert seen["png_at_3"] == b"\x89PNG"
    png = live / "learning_curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert not list(live.glob(".*.tmp"))
    steps, loss = read_series(live, "train/loss")
    assert steps == [1, 2, 3, 4, 5, 6] and all(v > 0 for v in loss)
    assert read_series(live, "eval/exact_accuracy")[0] == [2, 4]  # no eval at the last step (done)


def test_read_series_keeps_the_last_value_of_a_step_logged_twice(tmp_path):
    path = tmp_path / "plots" / "metrics" / "train"
    path.mkdir(parents=True)
    (path / "loss.tsv").write_text("step\tloss\n1\t3.0\n2\t2.0\n3\t9.0\n2\t2.5\n3\t1.5\n")
    assert read_series(tmp_path, "train/loss") == ([1, 2, 3], [3.0, 2.5, 1.5])
    assert read_series(tmp_path, "eval/exact_accuracy") == ([], [])


@pytest.mark.parametrize("eval_steps, segments", [(0, 2), (3, 3)])
def test_eval_during_training_runs_eval_steps_segments(tmp_path, eval_steps, segments):
    """eval_steps: the evaluation during training runs that many fixed segments (0: the model's own halt_max_steps,
    2 for TINY), and logs the count beside the accuracy."""
    data = make_dataset(tmp_path / "data", n_train=40, n_test=8)
    live = tmp_path / "live"
    cfg = TrainConfig(global_batch_size=8, steps=3, warmup_steps=1, lr=1e-3, log_every=1, seed=0, device="cpu",
                      eval_every=2, eval_steps=eval_steps)
    train(tmp_path / "run", data, preset="tiny", config=cfg, model_overrides=TINY, live_dir=live, progress=False)
    assert read_series(live, "eval/segments") == ([2], [float(segments)])
    assert len(read_series(live, "eval/exact_accuracy")[1]) == 1


def test_eval_steps_must_not_be_negative():
    with pytest.raises(HrmkitError, match="eval_steps must be >= 0"):
        TrainConfig(eval_steps=-1)


@pytest.mark.slow
def test_compiled_training_saves_the_eager_models_weights_names(tmp_path):
    """compile=true (the sudoku-search preset's default): the same steps, losses within float rounding of the eager
    run, and a model folder with the same tensor names (it loads into an uncompiled model)."""
    from safetensors.torch import load_file

    from hrmkit.api import load

    data = make_dataset(tmp_path / "data", n_train=40, n_test=8)
    runs = {}
    for compiled in (False, True):
        cfg = TrainConfig(global_batch_size=8, steps=3, warmup_steps=1, lr=1e-3, log_every=1, seed=0, device="cpu",
                          compile=compiled)
        out = tmp_path / f"run-{compiled}"
        train(out, data, preset="tiny", config=cfg, model_overrides=TINY, live_dir=tmp_path / f"live-{compiled}",
              progress=False)
        runs[compiled] = (load_file(out / "model.safetensors"), read_series(tmp_path / f"live-{compiled}", "train/loss"))
    (eager_w, eager_loss), (comp_w, comp_loss) = runs[False], runs[True]
    assert comp_w.keys() == eager_w.keys()
    assert comp_loss[0] == eager_loss[0] == [1, 2, 3]
    assert comp_loss[1] == pytest.approx(eager_loss[1], rel=1e-4)
    assert load(tmp_path / "run-True", device="cpu") is not None
