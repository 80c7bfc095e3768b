"""bench/facts.py's cells: a few words each, every grid cell a valid config of its own."""

from __future__ import annotations

import pytest

from tests.conftest import load_bench
from tunesmith.config import config_from_dict


@pytest.fixture(scope="module")
def bench():
    return load_bench("facts.py")


def configured(settings: dict):
    raw = {"data": {"train": "t.jsonl"}}
    for section, values in settings.items():
        raw[section] = {**raw.get(section, {}), **values}
    return config_from_dict(raw)


def test_the_grid_is_the_issues_24_cells_each_a_valid_config_of_its_own(bench):
    cells = bench.grid_cells()
    configs = [configured(bench.cell_settings(name)) for name in cells]
    assert len(cells) == len(set(cells)) == 24
    shapes = {(c.training.method, c.training.select_by, c.rewrites.k or 0, c.documents.enabled) for c in configs}
    assert shapes == {
        (method, select, k, documents)
        for method in ("lora", "full")
        for select in ("loss", "answers")
        for k in (0, 4, 8)
        for documents in (False, True)
    }


def test_a_cells_words_set_what_they_name_in_any_order(bench):
    cell = configured(bench.cell_settings("documents + lr 2e-4 full neftune k 4 seed 7"))
    assert cell.training.seed == 7
    assert (cell.training.method, cell.training.learning_rate, cell.training.neftune_alpha) == ("full", 2e-4, 5.0)
    assert cell.documents.enabled and cell.rewrites.k == 4 and cell.rewrites.generator == "rules"
    assert cell.training.select_by == "answers"  # unless the cell says loss
    assert configured(bench.cell_settings("lora loss")).training.select_by == "loss"
    pissa = configured(bench.cell_settings("pissa"))
    assert pissa.training.method == "lora" and pissa.lora.use_pissa
    frozen = configured(bench.cell_settings("frozen"))
    assert frozen.training.method == "full" and frozen.training.freeze_embeddings
    with pytest.raises(SystemExit, match="'ful' is no cell word"):
        bench.cell_settings("ful lr 1e-4")
    with pytest.raises(SystemExit, match="'rewrites' is no cell word, or lacks its number"):
        bench.cell_settings("full rewrites four")


def test_cells_that_differ_only_in_their_seed_are_averaged_with_their_range(bench):
    def values(f1, kept):
        return {"token_f1": f1, "fact_recall": f1 / 2, "rouge_l": f1, "exact_match": 0.1, "kept epoch": kept}

    lines = [
        ("answers seed 1", values(0.4, 6.0)),
        ("answers seed 2", values(0.5, None)),
        ("prompts", values(0.3, 8.0)),
    ]
    means = bench.seed_means(lines)
    assert list(means) == ["answers"]  # a cell run once has no mean
    mean, low, high = means["answers"]
    assert mean["token_f1"] == pytest.approx(0.45) and mean["kept epoch"] == 6.0
    assert (low["token_f1"], high["token_f1"], low["fact_recall"]) == (0.4, 0.5, 0.2)
