"""training.train_on_prompt: the training rows learn the questions' text too; the validation loss stays the
answers' alone, so it compares with any other run's."""

import tunesmith.training
from tests.training.helpers import CPU, fact_examples
from tunesmith.config import config_from_dict
from tunesmith.models.heads import IGNORE_INDEX
from tunesmith.models.load import build_causal
from tunesmith.plan import DataProfile, LengthStats, ModelInfo, make_plan
from tunesmith.tasks import TaskData, get_task


def learned(tokenizer, rows) -> list[str]:
    return [tokenizer.decode([token for token in labels if token != IGNORE_INDEX]) for labels in rows["labels"]]


def test_training_rows_learn_the_question_and_validation_rows_only_the_answer(tiny_model_dir, monkeypatch):
    config = config_from_dict(
        {"data": {"train": "t.jsonl"}, "training": {"train_on_prompt": True, "select_by": "loss", "method": "lora"}}
    )
    stats = LengthStats(30, 30, 30, 30, 30, 480)
    info = ModelInfo(n_params=40_000, hidden_size=48, n_layers=2, vocab_size=600, max_positions=256)
    plan = make_plan(DataProfile(4, 4, 0, 0, stats, stats, train_tokens=120), config, CPU, info)
    bundle = build_causal(tiny_model_dir, plan, 0.0, None)
    handed = {}
    capture = lambda _, train, valid, *rest: handed.update(train=train, valid=valid)  # noqa: E731
    monkeypatch.setattr(tunesmith.training, "train", capture)
    examples = fact_examples()
    get_task("causal_lm").train(bundle, TaskData(examples, examples, None), plan, config, None, None)

    question, answer = examples[0].messages[0]["content"], examples[0].messages[1]["content"]
    assert learned(bundle.tokenizer, handed["train"])[0] == f"{question}{answer}<|im_end|>\n"
    assert learned(bundle.tokenizer, handed["valid"])[0] == answer + "<|im_end|>\n"
