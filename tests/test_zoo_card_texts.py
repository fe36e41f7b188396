"""The model card's wording lives in the template (zoo/MODEL_CARD.md, its "card texts" block), not in card.py."""

import pytest

from hrmkit.errors import HrmkitError
from hrmkit.zoo import card

SHIPPED = card.TEMPLATE.read_text(encoding="utf-8")


def _template(tmp_path, text: str):
    path = tmp_path / "MODEL_CARD.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_texts_block_stays_out_of_the_card(run_dir):
    readme = card.card_text(run_dir, "me/tiny")
    assert card.TEXTS_MARKER in SHIPPED and card.TEXTS_MARKER not in readme
    assert "\nrefines:" not in readme and "$" not in readme
    # the body ends where the template's layout ends: the citation's fence
    assert readme.endswith("```bibtex\n" + card.text("citation") + "\n```\n")


def test_the_wording_is_read_from_the_template(run_dir, tmp_path):
    facts = card.facts_from_dir(run_dir, "me/tiny")
    assert facts.task == "sudoku"
    before = card.render(facts)
    old = card.text("limits", "task", "sudoku")
    assert old in before
    path = _template(tmp_path, SHIPPED.replace(old, "Sudoku, and nothing else."))
    reworded = card.render(facts, template=path)
    assert "- Sudoku, and nothing else.\n" in reworded and old not in reworded
    # edited again (the template is cached by modification time and size): read again
    path.write_text(SHIPPED.replace(old, "Only Sudoku, reworded once more."), encoding="utf-8")
    assert "- Only Sudoku, reworded once more.\n" in card.render(facts, template=path)


def test_a_template_without_texts_has_the_shipped_ones(run_dir, tmp_path):
    layout = SHIPPED[:SHIPPED.index("\n" + card.TEXTS_MARKER)]  # the template as it was before the texts moved
    assert layout.endswith("$citation\n```\n")
    facts = card.facts_from_dir(run_dir, "me/tiny")
    assert card.render(facts, template=_template(tmp_path, layout)) == card.render(facts)


def test_each_task_has_its_own_texts():
    for task in ("sudoku", "maze", "arc"):
        for keys in (("task",), ("limits", "task")):
            assert card.text(*keys, task) != card.text(*keys, "other"), (keys, task)
    assert card.text("task", "chess") == card.text("task", "other")  # a task the template does not name
    assert card.text("baselines", "one_pass", "maze") == "the input copied unchanged (no path drawn)"
    assert card.text("limits", "fixed_size", seq_len=81) == (
        "Fixed input size: sequences of 81 tokens; another puzzle size needs another model.")


@pytest.mark.parametrize("texts, message", [
    ("```yaml\ntask: [unclosed\n```\n", "the card texts are not valid YAML"),
    ("no block here\n", "must be one ```yaml block"),
    ("```yaml\n- a list\n```\n", "must be a YAML mapping"),
])
def test_a_broken_texts_block_is_named(tmp_path, texts, message):
    layout = SHIPPED[:SHIPPED.index("\n" + card.TEXTS_MARKER)]
    path = _template(tmp_path, layout + "\n\n" + card.TEXTS_MARKER + " -->\n\n" + texts)
    with pytest.raises(HrmkitError, match=message) as err:
        card.text("refines", template=path)
    assert str(path) in str(err.value)


def test_a_missing_text_or_placeholder_is_named(tmp_path):
    with pytest.raises(HrmkitError, match="no text at limits.nope"):
        card.text("limits", "nope")
    path = _template(tmp_path, SHIPPED.replace("refines: The model", "refines: The $unknown model"))
    with pytest.raises(HrmkitError, match="card text refines has a placeholder hrmkit does not fill"):
        card.text("refines", template=path)


def test_the_limits_follow_the_model_settings():
    facts = card.CardFacts(repo="me/x", title="x", summary="", task="sudoku", n_params=None,
                           config={"seq_len": 81, "halting": "fixed", "halt_max_steps": 4, "eval_segments": 32})
    found = card.limits(facts)
    assert found[0] == card.text("limits", "task", "sudoku") and found[-1] == card.text("limits", "sources")
    assert found[1].startswith("Fixed input size: sequences of 81 tokens")
    assert found[2].startswith("Trained with a fixed 4 segments per puzzle and evaluated with 32, which is also how")
    facts.config = {"seq_len": 81, "halting": "fixed", "halt_max_steps": 8, "attn_mask": "sudoku_peers"}
    found = card.limits(facts)
    assert found[2].startswith("Built-in structural prior") and found[3].startswith(
        "Trained and evaluated with a fixed 8 segments, which")
    facts.config = {"seq_len": 100, "attn_mask": "grid", "attn_radius": 2, "pos_encodings": "none", "puzzle_emb_ndim": 0}
    assert card.limits(facts)[1].startswith("Any grid size: attention only over the cells within Manhattan distance 2,")
    facts.config = {"arch": "trm", "seq_len": 100, "attn_mask": "family-graph", "structure": "maze", "attn_radius": 2,
                    "pos_encodings": "none", "puzzle_emb_ndim": 0}  # the generic spelling, another architecture
    assert card.limits(facts)[1].startswith("Any grid size: attention only over the cells within Manhattan distance 2,")
