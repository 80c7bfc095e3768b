"""Curriculum order: phase k of N draws from the easiest k/N share; the order is a function of seed and epoch."""

from dataclasses import replace

import pytest

from tests.training.helpers import fact_examples, log_lines, train_tiny
from tunesmith.errors import DataError
from tunesmith.training.curriculum import CurriculumSampler, label_scores, length_scores, phase_of_epoch


def epoch_order(sampler, epoch):
    sampler.set_epoch(epoch)
    return list(sampler)


def test_phases_widen_from_the_easiest_share_to_everything():
    scores = [5, 0, 9, 1, 7, 3, 8, 2, 6, 4, 11, 10]  # index 1 easiest, index 10 hardest
    sampler = CurriculumSampler(scores, phases=3, epochs=6, seed=1)
    easiest_third = {1, 3, 7, 5}
    easiest_two_thirds = easiest_third | {9, 0, 8, 4}
    assert [phase_of_epoch(e, 6, 3) for e in range(6)] == [0, 0, 1, 1, 2, 2]
    for epoch in (0, 1):
        order = epoch_order(sampler, epoch)
        assert len(order) == 12 and set(order) == easiest_third  # each easy example three times
    assert set(epoch_order(sampler, 2)) == easiest_two_thirds
    assert sorted(epoch_order(sampler, 5)) == list(range(12))  # the last phase: every example once


def test_the_order_depends_only_on_seed_and_epoch_so_resume_replays_it():
    scores = list(range(20))
    first, second = CurriculumSampler(scores, 2, 4, seed=7), CurriculumSampler(scores, 2, 4, seed=7)
    assert epoch_order(first, 3) == epoch_order(second, 3)
    assert epoch_order(first, 2) != epoch_order(first, 3)


def test_difficulty_labels_are_numbers_or_level_words():
    assert label_scores(["hard", "0.5", "Easy", "medium"], ["a", "b", "c", "d"]) == [2.0, 0.5, 0.0, 1.0]
    with pytest.raises(DataError, match="b: difficulty 'tricky'"):
        label_scores(["easy", "tricky"], ["a", "b"])
    with pytest.raises(DataError, match="a: curriculum 'difficulty' needs"):
        label_scores([None], ["a"])


def test_length_scores_count_tokens():
    assert length_scores({"input_ids": [[1, 2, 3], [4]]}) == [3.0, 1.0]


def test_a_difficulty_curriculum_trains_the_easy_examples_first(tiny_model_dir, tmp_path, monkeypatch):
    examples = [replace(ex, difficulty="easy" if i < 4 else "hard") for i, ex in enumerate(fact_examples(repeat=2))]
    seen = []
    original = CurriculumSampler.__iter__
    monkeypatch.setattr(
        CurriculumSampler, "__iter__", lambda self: iter(seen.append(list(original(self))) or seen[-1])
    )
    _, run, _ = train_tiny(
        tiny_model_dir,
        tmp_path,
        examples,
        fact_examples(),
        lora={"r": 4, "alpha": 8},
        training={
            "epochs": 2,
            "batch_size": 4,
            "grad_accum": 1,
            "bf16": False,
            "curriculum": "difficulty",
            "curriculum_phases": 2,
        },
        output={"save_checkpoints": False},
        with_difficulty=True,
    )
    assert [set(order) for order in seen] == [{0, 1, 2, 3}, set(range(8))]
    assert log_lines(run)
