"""The kept checkpoint chosen by its answers (``training.select_by: answers``): after each epoch the model answers
the first ``SELECTION_EXAMPLES`` validation questions, greedily and batched, and the trainer's early stopping and
best-checkpoint logic follow the score of those answers instead of the validation loss.

The lowest validation loss need not give the best answers: on departmental Q&A the loss was lowest at epoch 3
while facts kept arriving later (issue 18). The score is token F1 averaged with fact recall (the share of the
reference's URLs, numbers and codes said intact) where the validation answers hold facts, else token F1; for
summaries ROUGE-L. It is logged as ``eval_answer_score`` beside ``eval_token_f1`` / ``eval_fact_recall`` (or
``eval_rouge_l``), so the run's log, the progress line and the report's validation table show it per epoch.
"""

from __future__ import annotations

from collections.abc import Callable

from tunesmith.plan import Plan
from tunesmith.plan.constants import value

SELECTION_EXAMPLES = value("lm.SELECTION_EXAMPLES")
METRIC = "eval_answer_score"  # the trainer's name of the deciding score (greater is better)


def answer_scorer(bundle, records: list, plan: Plan, batch_size: int, summaries: bool) -> Callable[[], dict]:
    """A function that answers ``records`` (their first SELECTION_EXAMPLES) with the bundle's model as it is now
    and returns the trainer metrics to log: ``eval_answer_score`` and the scores it is made of."""
    from tunesmith.models.chat import prompt_text

    asked = records[:SELECTION_EXAMPLES]
    prompts = [prompt_text(bundle.tokenizer, record.prompt, bundle.system_prompt) for record in asked]
    references = [record.answer for record in asked]

    def score() -> dict[str, float]:
        from tunesmith.metrics.generate import generate

        model = bundle.model
        was_training = model.training
        try:
            outputs = generate(
                model,
                bundle.tokenizer,
                prompts,
                plan["max_new_tokens"],
                batch_size,
                bool(plan["bf16"]),
                description="answering validation questions",
            )
        finally:
            model.train(was_training)
        return answer_metrics([output.text for output in outputs], references, summaries)

    return score


def answer_metrics(answers: list[str], references: list[str], summaries: bool) -> dict[str, float]:
    """``eval_answer_score`` and its parts for these answers against their references."""
    from tunesmith.metrics.text import score_answer

    scores = [score_answer(answer, reference) for answer, reference in zip(answers, references)]
    if summaries:
        rouge = _mean([row["rouge_l"] for row in scores])
        return {"eval_rouge_l": rouge, METRIC: rouge}
    f1 = _mean([row["token_f1"] for row in scores])
    facts = [row["fact_recall"] for row in scores if row["fact_recall"] is not None]
    if not facts:
        return {"eval_token_f1": f1, METRIC: f1}
    recall = _mean(facts)
    return {"eval_token_f1": f1, "eval_fact_recall": recall, METRIC: round((f1 + recall) / 2, 4)}


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0
