"""How a trained generative model decodes, chosen on the validation split after training (issue 24).

The plan picks a decoding before training from rules and time estimates (beam search for summaries when it fits).
Which one reads best depends on the trained adapter: on SAMSum, SmolLM2's adapter gained 0.04 ROUGE-L from beam
search, while a length penalty that helped on the validation dialogues lost on the test ones. So, after training,
greedy and beam search, each with and without the repetition guard over the generated tokens, are scored on (part
of) the validation split with the task's primary metric. Plain greedy is the baseline: another decoding replaces it
only when it beats greedy in most bootstrap resamples of those examples (``lm.DECODING_SEARCH_CONFIDENCE``), since
on 41 SAMSum validation dialogues beam search led by 0.04 ROUGE-L and then trailed by 0.007 on the test dialogues.
The winner replaces the plan's decoding in plan.json: ``eval``, ``serve`` and the Modelfile then read the same
settings. Settings fixed in the config stay fixed; the
search never looks at the test split. transformers has no such search (``GenerationConfig`` holds one decoding);
this is the layer on top of its ``generate``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from tunesmith.plan import Choice, Plan, decoding_settings, generation_batch
from tunesmith.plan.constants import value, values

SEARCH_MINUTES = value("lm.DECODING_SEARCH_MINUTES")
SEARCH_EXAMPLES = value("lm.DECODING_SEARCH_EXAMPLES")
CONFIDENCE = value("lm.DECODING_SEARCH_CONFIDENCE")
RESAMPLES = 2000
QUALITY_MODE_MINUTES = value("lm.QUALITY_MODE_MINUTES")
GENERATION_BEAMS = values("lm.GENERATION_BEAMS")
GUARD_SIZE = 3  # the summaries' trigram guard (plan.make)
MIN_EXAMPLES = 8  # fewer cannot tell decodings apart; the search then keeps the plan's decoding


@dataclass(frozen=True)
class Candidate:
    num_beams: int
    no_repeat_ngram_size: int
    length_penalty: float

    @property
    def label(self) -> str:
        name = "greedy" if self.num_beams == 1 else f"beam {self.num_beams}"
        if self.num_beams > 1 and self.length_penalty != 1.0:
            name += f", length penalty {self.length_penalty:g}"
        return name + (f", {self.no_repeat_ngram_size}-gram guard" if self.no_repeat_ngram_size else "")

    def settings(self) -> dict:
        return decoding_settings(self.num_beams, self.length_penalty, self.no_repeat_ngram_size)


def candidates(plan: Plan, config) -> list[Candidate]:
    """Greedy and beam search (when scoring with beams fits the plan's limit), with and without the guard; a
    setting fixed in the config (``num_beams``, ``mode``, ``no_repeat_ngram_size``) is the only value tried."""
    evaluation = config.evaluation
    quality = GENERATION_BEAMS["quality"]
    if evaluation.num_beams is not None:
        beams = [evaluation.num_beams]
    elif evaluation.mode is not None:
        beams = [GENERATION_BEAMS[evaluation.mode]]
    else:
        greedy_minutes = plan.estimate.eval_minutes / max(1, plan["num_beams"])
        beams = [1, quality] if greedy_minutes * quality <= QUALITY_MODE_MINUTES else [1]
    size = evaluation.no_repeat_ngram_size
    guards = [size] if size is not None else [0, GUARD_SIZE]
    length_penalty = plan["length_penalty"]
    return [Candidate(b, g, length_penalty) for b in beams for g in guards]  # cheapest first: ties keep it


def choose_decoding(bundle, records: list, plan: Plan, config, metric: str) -> tuple[Plan, dict]:
    """Score each candidate decoding on the first validation ``records`` that fit the time limit and return the
    plan with the best one's settings, and the search's record (for run.json and the report); ``{}`` when there
    was nothing to choose (``choose_decoding`` off, one candidate, too few validation examples)."""
    choice = plan.choices.get("choose_decoding")
    tried = candidates(plan, config)
    if not (choice and choice.value) or len(tried) < 2 or len(records or []) < MIN_EXAMPLES:
        return plan, {}
    records = records[: _examples_in_time(plan, config, tried, len(records))]
    batches = [generation_batch(plan, config, candidate.num_beams) for candidate in tried]
    scored = [_score(bundle, records, candidate, plan, metric, batch) for candidate, batch in zip(tried, batches)]
    per_example = [row.pop("scores") for row in scored]
    baseline = next((i for i, c in enumerate(tried) if c.num_beams == 1 and not c.no_repeat_ngram_size), 0)
    for row, scores in zip(scored, per_example):
        row["confidence"] = round(_confidence(scores, per_example[baseline]), 3)
    confident = [
        i
        for i, row in enumerate(scored)
        if i == baseline or (row["score"] > scored[baseline]["score"] and row["confidence"] >= CONFIDENCE)
    ]
    best = max(confident, key=lambda i: (scored[i]["score"], -i))  # ties: the cheaper, earlier one
    greedy, winner = scored[baseline], scored[best]
    others = "; ".join(
        f"{row['label']} {row['score']:.4f}, better in {row['confidence']:.0%} of resamples"
        for row in scored
        if row is not winner and row is not greedy
    )
    if best == baseline:
        summary = (
            f"{winner['label']} kept, {metric} {winner['score']:.4f} on {len(records)} validation examples: no "
            f"other decoding beat it in {CONFIDENCE:.0%} of {RESAMPLES} resamples of them ({others})"
        )
    else:
        summary = (
            f"{winner['label']} scored {metric} {winner['score']:.4f} on {len(records)} validation examples, "
            f"{winner['score'] - greedy['score']:+.4f} over {greedy['label']}, better in {winner['confidence']:.0%} "
            f"of {RESAMPLES} resamples ({greedy['label']} {greedy['score']:.4f}; {others})"
        )
    return _with_decoding(plan, tried[best], summary), {
        "metric": metric,
        "examples": len(records),
        "chosen": winner["label"],
        "settings": tried[best].settings(),
        "baseline": greedy["label"],
        "gain_over_greedy": round(winner["score"] - greedy["score"], 4),
        "confidence_required": CONFIDENCE,
        "candidates": scored,
        "summary": summary,
    }


def _confidence(scores: list[float], baseline: list[float]) -> float:
    """The share of bootstrap resamples of the examples (paired) in which ``scores`` average above ``baseline``:
    scipy's bootstrap draws the resamples; 0 when the two never differ."""
    import numpy as np
    from scipy.stats import bootstrap

    differences = np.asarray(scores, dtype=float) - np.asarray(baseline, dtype=float)
    if not differences.any():
        return 0.0
    if np.ptp(differences) == 0:  # every example moved the same way by the same amount: no resample disagrees
        return float(differences[0] > 0)
    result = bootstrap(
        (differences,), np.mean, n_resamples=RESAMPLES, method="percentile", rng=np.random.default_rng(0)
    )
    return float(np.mean(result.bootstrap_distribution > 0))


def _examples_in_time(plan: Plan, config, tried: list[Candidate], available: int) -> int:
    """How many validation examples every candidate can be scored on within ``SEARCH_MINUTES``: the plan's
    scoring estimate per test example and beam (an upper bound: it assumes every answer runs to the limit)."""
    evaluation = config.evaluation
    tests = min(plan.data.get("n_test", 0), evaluation.max_examples or plan.data.get("n_test", 0))
    models = 2 if evaluation.compare_base else 1  # the estimate covers the base model's scoring too
    per_beam = plan.estimate.eval_minutes / (max(1, tests) * max(1, plan["num_beams"]) * models)
    beams = sum(candidate.num_beams for candidate in tried)
    fit = math.floor(SEARCH_MINUTES / (per_beam * beams)) if per_beam > 0 else available
    return max(MIN_EXAMPLES, min(available, SEARCH_EXAMPLES, fit))


def _score(bundle, records: list, candidate: Candidate, plan: Plan, metric: str, batch_size: int) -> dict:
    from tunesmith.metrics.generate import generate
    from tunesmith.metrics.text import score_answer
    from tunesmith.models.chat import prompt_text

    prompts = [prompt_text(bundle.tokenizer, record.prompt, bundle.system_prompt) for record in records]
    started = time.perf_counter()
    outputs = generate(
        bundle.model,
        bundle.tokenizer,
        prompts,
        plan["max_new_tokens"],
        batch_size,
        bool(plan["bf16"]),
        description=f"choosing decoding: {candidate.label}",
        settings=candidate.settings(),
    )
    scores = [score_answer(output.text, record.answer)[metric] for output, record in zip(outputs, records)]
    return {
        "label": candidate.label,
        "num_beams": candidate.num_beams,
        "no_repeat_ngram_size": candidate.no_repeat_ngram_size,
        "length_penalty": candidate.length_penalty,
        "score": round(sum(scores) / len(scores), 4),
        "scores": scores,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _with_decoding(plan: Plan, chosen: Candidate, summary: str) -> Plan:
    """The plan with ``chosen``'s settings; values set in the config keep their own reason."""
    choices = dict(plan.choices)
    reason = f"chosen on the validation split: {summary}"
    for name, setting in (("num_beams", chosen.num_beams), ("no_repeat_ngram_size", chosen.no_repeat_ngram_size)):
        if choices[name].source != "config":
            choices[name] = Choice(setting, reason, "plan")
    if "generation_mode" in choices and choices["generation_mode"].source != "config":
        mode = "quality" if chosen.num_beams > 1 else "fast"
        choices["generation_mode"] = Choice(mode, reason, "plan")
    choices["choose_decoding"] = replace(choices["choose_decoding"], reason=summary)
    return replace(plan, choices=choices)
