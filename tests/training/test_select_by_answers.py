"""The kept checkpoint and early stopping decided by the validation answers' score (training.select_by: answers)."""

from safetensors.torch import load_file

from tests.training.helpers import fact_examples, log_lines, train_tiny
from tunesmith.tasks.selection import METRIC, answer_metrics, answer_scorer
from tunesmith.training.trainer import ValidationScorer

SCRIPT = [0.20, 0.50, 0.30, 0.10, 0.60, 0.70]  # best at epoch 2, then two worse epochs: patience 2 stops at 4


def scripted(bundle):
    calls = iter(SCRIPT)
    return ValidationScorer(METRIC, lambda: {"eval_token_f1": 0.0, METRIC: next(calls)})


TRAINING = {"epochs": 6, "batch_size": 4, "grad_accum": 1, "learning_rate": 1e-2, "bf16": False}


def test_the_epoch_with_the_best_answer_score_is_kept_and_stops_the_run(tiny_model_dir, tmp_path):
    _, run, result = train_tiny(
        tiny_model_dir,
        tmp_path,
        fact_examples(repeat=2),  # 8 examples, batch 4: 2 steps an epoch
        fact_examples(),
        scorer=scripted,
        training={**TRAINING, "early_stopping_patience": 2},
        output={"logging_steps": 1, "keep_checkpoints": 1},
    )
    assert result.validation_metric == METRIC and result.validation == SCRIPT[:4]
    assert result.stopped_early and result.steps == 8  # epoch 4 was the second without a better score
    assert result.best_checkpoint == "checkpoint-4" and result.best_validation == 0.5
    best = load_file(run.checkpoints_dir / "checkpoint-4" / "adapter_model.safetensors")
    final = load_file(run.adapter_dir / "adapter_model.safetensors")
    assert all((best[name] == final[name]).all() for name in best)  # the adapter is epoch 2's
    evaluations = [line for line in log_lines(run) if "eval_loss" in line]
    assert [line[METRIC] for line in evaluations] == SCRIPT[:4]  # logged beside the loss, every epoch


def test_where_the_answers_decide_the_plan_runs_every_epoch_and_keeps_a_best_that_comes_after_a_dip(
    tiny_model_dir, tmp_path
):
    _, run, result = train_tiny(  # early_stopping_patience unset: the plan's choice
        tiny_model_dir,
        tmp_path,
        fact_examples(repeat=2),
        fact_examples(),
        scorer=scripted,
        training={**TRAINING, "select_by": "answers"},
        output={"logging_steps": 1, "keep_checkpoints": 1},
    )
    assert result.validation == SCRIPT and not result.stopped_early and result.steps == 12
    assert result.best_checkpoint == "checkpoint-12" and result.best_validation == 0.7  # after two worse epochs


def test_the_loss_decides_without_a_scorer(tiny_model_dir, tmp_path):
    _, _, result = train_tiny(
        tiny_model_dir, tmp_path, fact_examples(), fact_examples(), training={**TRAINING, "epochs": 2}
    )
    assert result.validation_metric == "eval_loss" and len(result.validation) == 2


def test_answers_are_scored_by_token_f1_with_fact_recall_or_rouge_for_summaries():
    answers = ["Call us at (541) 555-0187 any day.", "We open at 9 am."]
    references = ["Call (541) 555-0187.", "We open at 8 am."]
    scores = answer_metrics(answers, references, summaries=False)
    assert scores["eval_fact_recall"] == 0.5  # the phone number is intact, 8 am is not
    assert scores[METRIC] == round((scores["eval_token_f1"] + 0.5) / 2, 4)
    plain = answer_metrics(["Yes, banners."], ["Yes, vinyl banners."], summaries=False)
    assert "eval_fact_recall" not in plain and plain[METRIC] == plain["eval_token_f1"] == 0.8
    summary = answer_metrics(["Anna meets Tom."], ["Anna will meet Tom."], summaries=True)
    assert summary[METRIC] == summary["eval_rouge_l"] > 0


def test_the_scorer_answers_the_first_validation_questions_with_the_model_as_it_is(tiny_model_dir):
    from types import SimpleNamespace

    from tunesmith.models.load import load_base_model, load_tokenizer

    tokenizer, model = load_tokenizer(tiny_model_dir), load_base_model(tiny_model_dir)
    model.train()
    bundle = SimpleNamespace(model=model, tokenizer=tokenizer, system_prompt=None)
    plan = {"max_new_tokens": 4, "bf16": False}
    scores = answer_scorer(bundle, fact_examples(), plan, 4, summaries=False)()
    assert set(scores) >= {"eval_token_f1", METRIC} and 0.0 <= scores[METRIC] <= 1.0
    assert model.training  # handed back to the trainer in training mode
