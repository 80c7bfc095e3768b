"""The decoding chosen on the validation split after training (tunesmith.tasks.decoding)."""

from types import SimpleNamespace

import pytest

from tunesmith.config import config_from_dict
from tunesmith.plan import Choice, Estimate, Plan, generation_settings
from tunesmith.tasks import decoding
from tunesmith.tasks.decoding import Candidate, candidates, choose_decoding


def summary_config(**evaluation):
    raw = {"name": "s", "task": "summarization", "model": {"name": "m"}, "data": {"train": "t.csv"}}
    return config_from_dict({**raw, "evaluation": evaluation}, "run.yaml")


def summary_plan(eval_minutes: float = 4.0, num_beams: int = 4, search: bool = True, **sources) -> Plan:
    def choice(name, value):
        return Choice(value, "set in the config" if name in sources else "planned", sources.get(name, "plan"))

    return Plan(
        choices={
            "max_new_tokens": choice("max_new_tokens", 16),
            "bf16": choice("bf16", False),
            "generation_mode": choice("generation_mode", "quality" if num_beams > 1 else "fast"),
            "num_beams": choice("num_beams", num_beams),
            "no_repeat_ngram_size": choice("no_repeat_ngram_size", 3),
            "length_penalty": choice("length_penalty", 1.0),
            "choose_decoding": choice("choose_decoding", search),
        },
        estimate=Estimate(1, 1, 1, 1.0, eval_minutes, 1.0),
        data={"n_test": 40},
    )


def labels(tried: list[Candidate]) -> list[str]:
    return [candidate.label for candidate in tried]


def test_greedy_and_beam_with_and_without_the_guard_are_tried_cheapest_first():
    tried = candidates(summary_plan(), summary_config())
    assert labels(tried) == ["greedy", "greedy, 3-gram guard", "beam 4", "beam 4, 3-gram guard"]
    assert tried[3].settings() == {
        "num_beams": 4,
        "length_penalty": 1.0,
        "early_stopping": True,
        "no_repeat_ngram_size": 3,
    }


def test_settings_fixed_in_the_config_are_the_only_values_tried():
    assert labels(candidates(summary_plan(), summary_config(num_beams=2))) == ["beam 2", "beam 2, 3-gram guard"]
    assert labels(candidates(summary_plan(), summary_config(mode="fast"))) == ["greedy", "greedy, 3-gram guard"]
    assert labels(candidates(summary_plan(), summary_config(no_repeat_ngram_size=0))) == ["greedy", "beam 4"]


def test_beam_search_is_not_tried_when_scoring_with_it_would_not_fit_the_plans_limit():
    slow = summary_plan(eval_minutes=80.0)  # beam 4 on the test split: 80 min, over the 15-minute limit
    assert labels(candidates(slow, summary_config())) == ["greedy", "greedy, 3-gram guard"]


def fake_scores(monkeypatch, by_label: dict[str, float | list[float]]) -> list[int]:
    """Candidates score as given (one score for every example, or a score per example); returns the number of
    validation examples each was scored on."""
    seen = []

    def score(bundle, records, candidate, plan, metric, batch_size):
        seen.append(len(records))
        given = by_label[candidate.label]
        scores = list(given) if isinstance(given, list) else [given] * len(records)
        row = {"label": candidate.label, "num_beams": candidate.num_beams, "seconds": 1.0, "scores": scores}
        return row | {"no_repeat_ngram_size": candidate.no_repeat_ngram_size, "score": sum(scores) / len(scores)}

    monkeypatch.setattr(decoding, "_score", score)
    return seen


def test_the_best_clear_gain_on_validation_replaces_the_plans_decoding(monkeypatch):
    fake_scores(
        monkeypatch, {"greedy": 0.30, "greedy, 3-gram guard": 0.31, "beam 4": 0.33, "beam 4, 3-gram guard": 0.32}
    )
    plan, record = choose_decoding(None, [object()] * 20, summary_plan(), summary_config(), "rouge_l")
    assert record["chosen"] == "beam 4" and record["gain_over_greedy"] == pytest.approx(0.03)
    assert record["baseline"] == "greedy" and record["candidates"][2]["confidence"] == 1.0
    assert "scores" not in record["candidates"][0]  # per-example scores stay out of run.json
    assert generation_settings(plan) == {"num_beams": 4, "length_penalty": 1.0, "early_stopping": True}
    assert plan.choices["num_beams"].reason.startswith("chosen on the validation split: beam 4 scored rouge_l 0.3300")
    assert "+0.0300 over greedy, better in 100% of 2000 resamples" in plan.choices["choose_decoding"].reason
    assert plan["generation_mode"] == "quality"


def test_a_gain_within_the_noise_of_the_validation_examples_keeps_greedy(monkeypatch):
    greedy = [0.3] * 20
    # beam search is ahead on average (+0.02) but behind on 9 of the 20 examples: not a clear gain
    beam = [0.3 + (0.3 if i % 2 else -0.3) for i in range(18)] + [0.5, 0.1]
    beam[0] += 0.4
    fake_scores(
        monkeypatch, {"greedy": greedy, "greedy, 3-gram guard": greedy, "beam 4": beam, "beam 4, 3-gram guard": beam}
    )
    plan, record = choose_decoding(None, [object()] * 20, summary_plan(), summary_config(), "rouge_l")
    beam_row = record["candidates"][2]
    assert beam_row["score"] > record["candidates"][0]["score"] and beam_row["confidence"] < 0.95
    assert record["chosen"] == "greedy" and generation_settings(plan) == {} and plan["no_repeat_ngram_size"] == 0
    assert plan.choices["choose_decoding"].reason.startswith("greedy kept, rouge_l 0.3000 on 20 validation examples")
    assert record["candidates"][1]["confidence"] == 0.0  # identical answers: no evidence either way


def test_greedy_candidates_decode_the_plans_batch_and_beam_search_at_most_16_sequences(monkeypatch):
    batches = {}

    def score(bundle, records, candidate, plan, metric, batch_size):
        batches[candidate.label] = batch_size
        return {"label": candidate.label, "num_beams": candidate.num_beams, "seconds": 1.0, "scores": [0.3] * 20}

    monkeypatch.setattr(decoding, "_score", lambda *args: score(*args) | {"no_repeat_ngram_size": 0, "score": 0.3})
    plan = summary_plan()
    plan.choices["generation_batch"] = Choice(64, "planned", "plan")
    choose_decoding(None, [object()] * 20, plan, summary_config(), "rouge_l")
    assert batches == {"greedy": 64, "greedy, 3-gram guard": 64, "beam 4": 16, "beam 4, 3-gram guard": 16}


def test_a_tie_keeps_the_cheaper_decoding(monkeypatch):
    fake_scores(monkeypatch, dict.fromkeys(["greedy", "greedy, 3-gram guard", "beam 4", "beam 4, 3-gram guard"], 0.3))
    plan, record = choose_decoding(None, [object()] * 20, summary_plan(), summary_config(), "rouge_l")
    assert record["chosen"] == "greedy" and generation_settings(plan) == {}
    assert plan["generation_mode"] == "fast"


def test_a_value_set_in_the_config_keeps_its_reason(monkeypatch):
    fake_scores(monkeypatch, {"greedy": 0.2, "beam 4": 0.3})
    config = summary_config(no_repeat_ngram_size=0)
    plan = summary_plan(no_repeat_ngram_size="config")
    plan.choices["no_repeat_ngram_size"] = Choice(0, "set in the config", "config")
    chosen, _ = choose_decoding(None, [object()] * 20, plan, config, "rouge_l")
    assert chosen["num_beams"] == 4 and chosen.choices["no_repeat_ngram_size"].reason == "set in the config"


def test_the_search_fits_its_time_limit_and_skips_without_enough_validation(monkeypatch):
    seen = fake_scores(
        monkeypatch, dict.fromkeys(["greedy", "greedy, 3-gram guard", "beam 4", "beam 4, 3-gram guard"], 0.1)
    )
    # scoring 40 test examples with 4 beams, base and tuned, is estimated at 8 min: 0.025 min per example and beam;
    # 10 beams a validation example (1 + 1 + 4 + 4) fit 40 examples in the 10-minute limit
    choose_decoding(None, [object()] * 200, summary_plan(eval_minutes=8.0), summary_config(), "rouge_l")
    assert seen == [40] * 4
    seen.clear()
    plan = summary_plan()
    assert choose_decoding(None, [object()] * 5, plan, summary_config(), "rouge_l") == (plan, {})
    off = summary_plan(search=False)
    assert choose_decoding(None, [object()] * 50, off, summary_config(), "rouge_l") == (off, {})
    assert seen == []


def test_the_plan_searches_for_summaries_with_a_validation_split_only():
    from tunesmith.plan import LengthStats
    from tunesmith.plan.choices import Chooser
    from tunesmith.plan.make import _pick_generation

    def picked(summaries: bool, n_valid: int, **evaluation):
        chooser = Chooser()
        chooser.pick("max_new_tokens", None, 16, "")
        chooser.pick("generation_batch", None, 16, "")
        config = SimpleNamespace(evaluation=summary_config(**evaluation).evaluation)
        lengths = LengthStats(mean=40, p50=10, p95=12, p99=14, max=16, total=400)
        profile = SimpleNamespace(n_test=10, n_valid=n_valid, answer=lengths, sequence=lengths)
        hardware = SimpleNamespace(matmul_gflops=100.0, device="cpu")
        _pick_generation(
            chooser, config, profile, hardware, SimpleNamespace(n_params=1e6, n_layers=2, hidden_size=64), summaries
        )
        return chooser.choices["choose_decoding"]

    assert picked(True, 10).value is True and "validation split" in picked(True, 10).reason
    assert picked(True, 0).value is False and picked(False, 10).value is False
    assert picked(False, 10, choose_decoding=True).value is True
