import math

import pytest

from tunesmith.config import config_from_dict
from tunesmith.plan import DataProfile, Hardware, LengthStats, ModelInfo, make_plan

CPU = Hardware(device="cpu", name="test cpu", cores=2, memory_gb=24, bf16=True, matmul_gflops=800.0)
SMOL = ModelInfo(n_params=134_515_008, hidden_size=576, n_layers=30, vocab_size=49152, max_positions=8192)


def profile(n_train: int, p99: int = 110, longest: int = 120, n_test: int = 50) -> DataProfile:
    sequence = LengthStats(mean=70, p50=70, p95=100, p99=p99, max=longest, total=70 * n_train)
    answer = LengthStats(mean=30, p50=30, p95=50, p99=60, max=68, total=30 * n_train)
    return DataProfile(n_train, 20, n_test, 5, sequence, answer, train_tokens=70 * n_train)


def config(**sections):
    return config_from_dict({"data": {"train": "t.jsonl"}, **sections})


def lora_config(**sections):
    """A config that trains a LoRA adapter (the plan would fine-tune SMOL in full on CPU's 24 GiB)."""
    return config(**{**sections, "training": {**sections.get("training", {}), "method": "lora"}})


def test_small_datasets_get_more_epochs_and_smaller_batches_than_large_ones():
    small, large = (make_plan(profile(n), lora_config(), CPU, SMOL) for n in (200, 20_000))
    assert small["epochs"] > large["epochs"]
    assert small["batch_size"] * small["grad_accum"] < large["batch_size"] * large["grad_accum"]
    assert small["lora_r"] <= large["lora_r"]
    assert small["lora_alpha"] == 2 * small["lora_r"]


def test_every_choice_has_a_reason_and_the_plan_is_the_source_by_default():
    plan = make_plan(profile(300), lora_config(), CPU, SMOL)
    for name in (
        "lora_r",
        "lora_alpha",
        "epochs",
        "batch_size",
        "grad_accum",
        "max_length",
        "warmup_steps",
        "learning_rate",
    ):
        assert plan.choices[name].source == "plan" and plan.choices[name].reason


def test_values_set_in_the_config_win_over_the_plan():
    chosen = config(
        lora={"r": 4, "alpha": 4}, training={"epochs": 1, "batch_size": 2, "max_length": 64, "learning_rate": 1e-4}
    )
    plan = make_plan(profile(300), chosen, CPU, SMOL)
    assert (plan["lora_r"], plan["lora_alpha"], plan["epochs"], plan["batch_size"]) == (4, 4, 1, 2)
    assert (plan["max_length"], plan["learning_rate"]) == (64, 1e-4)
    assert make_plan(profile(300), lora_config(), CPU, SMOL)["target_modules"] == "all-linear"
    attention = make_plan(profile(300), config(lora={"target_modules": ["q_proj", "v_proj"]}), CPU, SMOL)
    assert (
        attention["target_modules"] == ["q_proj", "v_proj"] and attention.choices["target_modules"].source == "config"
    )
    assert plan.choices["epochs"].source == "config" and plan.choices["epochs"].reason == "set in the config"


def test_max_length_covers_the_longest_example_unless_it_is_an_outlier():
    assert make_plan(profile(300, p99=110, longest=130), config(), CPU, SMOL)["max_length"] == 144
    assert make_plan(profile(300, p99=110, longest=900), config(), CPU, SMOL)["max_length"] == 112


def test_batch_times_accumulation_gives_the_effective_batch_and_fits_the_token_budget():
    plan = make_plan(profile(5000, p99=500, longest=510), config(), CPU, SMOL)
    assert plan["batch_size"] * plan["max_length"] <= 2048
    assert plan["batch_size"] * plan["grad_accum"] == 16


def test_a_time_budget_is_filled_with_a_fractional_epoch_count_and_the_plan_says_how_much_it_uses():
    free = make_plan(profile(300), config(), CPU, SMOL)
    per_epoch = free.estimate.train_minutes / free["epochs"]
    # the case: a 9-minute budget at ~4.55 min/epoch gave 1 epoch; it should give just under 2
    budget = per_epoch * 1.978
    tight = make_plan(profile(300), config(training={"time_budget_minutes": budget}), CPU, SMOL)
    assert tight["epochs"] == pytest.approx(1.97) and tight.estimate.train_minutes <= budget
    assert tight.estimate.total_steps == math.ceil(tight.estimate.steps_per_epoch * 1.97)
    reason = tight.choices["epochs"].reason
    assert reason.startswith(f"cut from {free['epochs']} to fit time_budget_minutes=") and "budget minutes" in reason
    roomy = make_plan(profile(300), config(training={"time_budget_minutes": 1000}), CPU, SMOL)
    assert roomy["epochs"] == free["epochs"] and "of 1000 budget minutes" in roomy.choices["epochs"].reason
    fixed = make_plan(profile(300), config(training={"time_budget_minutes": budget, "epochs": 5}), CPU, SMOL)
    assert fixed["epochs"] == 5  # a value set in the config still wins


def test_memory_that_cannot_be_read_is_unknown_and_planned_safely():
    from dataclasses import replace

    unknown = make_plan(profile(200), config(), replace(CPU, memory_gb=None), SMOL)
    assert unknown["gradient_checkpointing"] is True
    assert "memory could not be read" in unknown.choices["gradient_checkpointing"].reason
    assert "0.0 GiB" not in unknown.choices["gradient_checkpointing"].reason


def test_estimate_counts_steps_and_scales_with_epochs():
    plan = make_plan(profile(200), config(training={"epochs": 2, "batch_size": 8, "grad_accum": 1}), CPU, SMOL)
    assert plan.estimate.steps_per_epoch == 25 and plan.estimate.total_steps == 50
    twice = make_plan(profile(200), config(training={"epochs": 4, "batch_size": 8, "grad_accum": 1}), CPU, SMOL)
    assert twice.estimate.train_minutes == pytest.approx(2 * plan.estimate.train_minutes)
    assert plan.choices["warmup_steps"].value == 3
    assert 1 < plan.estimate.peak_memory_gb < 24


def test_no_bf16_on_hardware_without_it():
    plain = Hardware(device="cpu", name="old", cores=2, memory_gb=8, bf16=False, matmul_gflops=100.0)
    assert make_plan(profile(200), config(), plain, SMOL)["bf16"] is False


def test_gradient_checkpointing_only_when_the_estimated_peak_does_not_fit():
    roomy = make_plan(profile(200), config(), CPU, SMOL)
    assert roomy["gradient_checkpointing"] is False
    tight = Hardware(device="cpu", name="tight", cores=2, memory_gb=1.0, bf16=True, matmul_gflops=800.0)
    short = make_plan(profile(200), config(), tight, SMOL)
    assert short["gradient_checkpointing"] is True
    assert short.choices["gradient_checkpointing"].reason.startswith(
        f"estimated peak {short.estimate.peak_memory_gb:.1f}"
    )
    assert (
        make_plan(profile(200), config(training={"gradient_checkpointing": False}), tight, SMOL)[
            "gradient_checkpointing"
        ]
        is False
    )


def test_compiling_where_it_pays_twice_over_on_a_measured_decoder_and_the_estimate_counts_it():
    from dataclasses import replace

    compiler, llama = replace(CPU, cpp_compiler=True), replace(SMOL, model_type="llama")
    small, large = profile(30), profile(20_000)
    assert make_plan(large, lora_config(), CPU, llama)["compile"] is False  # no C++ compiler
    assert "no C++ compiler" in make_plan(large, lora_config(), CPU, llama).choices["compile"].reason
    assert make_plan(large, lora_config(), compiler, SMOL)["compile"] is False  # model type not measured
    assert (
        make_plan(small, lora_config(), compiler, llama)["compile"] is False
    )  # ~1 min of training: would not pay twice
    eager = make_plan(large, lora_config(training={"compile": False}), compiler, llama)
    compiled = make_plan(large, lora_config(), compiler, llama)
    assert compiled["compile"] is True and "saves ~" in compiled.choices["compile"].reason
    step_minutes = eager.estimate.train_minutes - compiled.estimate.train_minutes
    assert step_minutes > 0.5  # 1/1.23 of the steps' time plus 30 s
    gpu = Hardware(device="cuda", name="gpu", cores=8, memory_gb=80, bf16=True, matmul_gflops=4e5, cpp_compiler=True)
    assert make_plan(large, lora_config(), gpu, llama)["compile"] is False  # not measured on a GPU
    forced = make_plan(small, lora_config(training={"compile": True}), compiler, llama)
    unforced = make_plan(small, lora_config(training={"compile": False}), compiler, llama)
    assert forced["compile"] is True and forced.estimate.train_minutes > unforced.estimate.train_minutes


def test_several_processes_keep_the_global_batch_and_gpus_add_up_where_cpu_processes_do_not():
    from dataclasses import replace

    gpu = Hardware(device="cuda", name="test gpu", cores=16, memory_gb=80, bf16=True, matmul_gflops=400_000.0)
    unsaved = config(output={"save_checkpoints": False})  # a checkpoint's seconds do not divide among processes
    for hardware in (CPU, gpu):
        one = make_plan(profile(2_000), unsaved, hardware, SMOL)
        four = make_plan(profile(2_000), unsaved, replace(hardware, world_size=4), SMOL)
        global_batch = four["batch_size"] * four["grad_accum"] * 4
        assert global_batch == one["batch_size"] * one["grad_accum"] == 16
        assert four.estimate.steps_per_epoch == one.estimate.steps_per_epoch == 125
        assert "4 processes" in four.choices["grad_accum"].reason
        ratio = four.estimate.train_minutes / one.estimate.train_minutes
        assert ratio == pytest.approx(0.25 if hardware.device == "cuda" else 1.0)
    tight = replace(CPU, memory_gb=4.5)  # CPU processes share one machine's memory (this plan: ~2.9 GiB each)
    assert not make_plan(profile(2_000), config(), tight, SMOL)["gradient_checkpointing"]
    assert make_plan(profile(2_000), config(), replace(tight, world_size=2), SMOL)["gradient_checkpointing"]


def test_each_epoch_adds_its_checkpoint_and_validation_pass_to_the_training_estimate():
    from dataclasses import replace

    saved, unsaved = (
        make_plan(profile(300), lora_config(output={"save_checkpoints": on}), CPU, SMOL).estimate.train_minutes
        for on in (True, False)
    )
    epochs = make_plan(profile(300), lora_config(), CPU, SMOL)["epochs"]
    assert (saved - unsaved) * 60 == pytest.approx(epochs * 2.5)  # lm.CHECKPOINT_SECONDS a checkpoint
    unvalidated = make_plan(replace(profile(300), n_valid=0), lora_config(), CPU, SMOL).estimate.train_minutes
    assert unvalidated < saved


def test_the_answer_budget_follows_the_training_answers_not_their_longest_outlier():
    from dataclasses import replace

    outlier = replace(profile(300), answer=LengthStats(mean=40, p50=30, p95=50, p99=60, max=768, total=1))
    plan = make_plan(outlier, config(), CPU, SMOL)
    assert plan["max_new_tokens"] == 88  # 60 x 1.25 + 8, rounded up to 8; not 768 x 1.25
    assert "at most 60 tokens (longest 768)" in plan.choices["max_new_tokens"].reason
    short_context = replace(SMOL, max_positions=100)  # a prompt of 70 tokens leaves 30 for the answer
    assert make_plan(outlier, config(), CPU, short_context)["max_new_tokens"] == 30
    assert make_plan(outlier, config(evaluation={"max_new_tokens": 500}), CPU, SMOL)["max_new_tokens"] == 500


def test_the_estimate_counts_the_decoding_search_within_its_limit():
    from dataclasses import replace

    summaries = make_plan(profile(300), config(), CPU, SMOL, summaries=True)
    assert summaries["choose_decoding"] is True and summaries.estimate.search_minutes > 0
    # greedy and beam 4, with and without the guard, on the validation examples, tuned model only: more examples
    # cost more, up to lm.DECODING_SEARCH_EXAMPLES (64); never over the 10-minute limit
    more = make_plan(replace(profile(300), n_valid=40), config(), CPU, SMOL, summaries=True).estimate.search_minutes
    assert more > summaries.estimate.search_minutes
    sixty_four, thousand = (
        make_plan(replace(profile(300), n_valid=n), config(), CPU, SMOL, summaries=True).estimate.search_minutes
        for n in (64, 1000)
    )
    assert thousand == pytest.approx(sixty_four)
    slow = replace(CPU, matmul_gflops=1.0)
    assert make_plan(profile(300), config(), slow, SMOL, summaries=True).estimate.search_minutes == 10
    assert make_plan(profile(300), config(), CPU, SMOL).estimate.search_minutes == 0  # Q&A: greedy, no search


def test_scoring_is_planned_in_batches_of_64_greedy_sequences_on_a_cpu_and_the_estimate_follows_the_batch():
    plan = make_plan(profile(300), config(), CPU, SMOL)
    assert plan["generation_batch"] == 64 and plan.choices["generation_batch"].source == "plan"
    assert "at most 16 sequences" in plan.choices["generation_batch"].reason  # beam search
    sixteen = make_plan(profile(300), config(evaluation={"batch_size": 16}), CPU, SMOL)
    assert sixteen["generation_batch"] == 16 and sixteen.choices["generation_batch"].source == "config"
    # 50 test questions: one call of 50 sequences instead of 16 + 16 + 16 + 2, each step paying the fixed overhead
    # (less than that saves: the one call is padded to the longest prompt, the four to theirs)
    assert plan.estimate.eval_minutes < 0.85 * sixteen.estimate.eval_minutes
    small = Hardware(device="cpu", name="small", cores=2, memory_gb=0.1, bf16=True, matmul_gflops=800.0)
    tight = make_plan(profile(300), config(), small, SMOL)  # 30 layers x 576 x 340 tokens of keys and values
    assert tight["generation_batch"] < 64 and "a quarter of the memory" in tight.choices["generation_batch"].reason
    no_base = make_plan(profile(300), config(evaluation={"compare_base": False}), CPU, SMOL)
    assert no_base.estimate.eval_minutes < 0.5 * plan.estimate.eval_minutes  # the base runs to max_new_tokens
    assert no_base.estimate.base_eval_minutes == 0
    assert plan.estimate.base_eval_minutes == pytest.approx(plan.estimate.eval_minutes - no_base.estimate.eval_minutes)


def test_the_kept_checkpoint_is_chosen_by_answers_where_they_are_enough_and_cheap():
    from dataclasses import replace

    plan = make_plan(profile(300), config(), CPU, SMOL)
    assert plan["select_by"] == "answers" and "20 validation questions" in plan.choices["select_by"].reason
    assert "token F1 with fact recall" in plan.choices["select_by"].reason
    assert 0 < plan.estimate.selection_minutes <= 0.25 * plan.estimate.train_minutes
    few = make_plan(replace(profile(300), n_valid=10), config(), CPU, SMOL)
    assert few["select_by"] == "loss" and "10 validation questions: too few" in few.choices["select_by"].reason
    assert few.estimate.selection_minutes == 0
    long_answers = LengthStats(mean=600, p50=600, p95=1000, p99=1000, max=1000, total=600 * 300)
    costly = make_plan(
        replace(profile(300), answer=long_answers), config(evaluation={"max_new_tokens": 1024}), CPU, SMOL
    )
    assert costly["select_by"] == "loss" and "over 25% of the training time" in costly.choices["select_by"].reason
    once = make_plan(profile(300), config(training={"epochs": 1}), CPU, SMOL)
    assert once["select_by"] == "loss" and "no earlier epoch" in once.choices["select_by"].reason
    forced = make_plan(replace(profile(300), n_valid=10), config(training={"select_by": "answers"}), CPU, SMOL)
    assert forced["select_by"] == "answers" and forced.choices["select_by"].source == "config"
    summaries = make_plan(profile(300), config(), CPU, SMOL, summaries=True)
    assert "ROUGE-L" in summaries.choices["select_by"].reason


def test_early_stopping_waits_on_the_loss_and_is_off_where_the_answers_decide_unless_the_config_says():
    from dataclasses import replace

    by_answers = make_plan(profile(300), config(), CPU, SMOL)
    assert by_answers["select_by"] == "answers" and by_answers["early_stopping_patience"] is None
    assert by_answers.choices["early_stopping_patience"].reason.startswith("off: every epoch runs")
    by_loss = make_plan(replace(profile(300), n_valid=10), config(), CPU, SMOL)
    assert by_loss["select_by"] == "loss" and by_loss["early_stopping_patience"] == 3
    assert by_loss.choices["early_stopping_patience"].source == "plan"
    unvalidated = make_plan(replace(profile(300), n_valid=0), config(), CPU, SMOL)
    assert (
        unvalidated["early_stopping_patience"] is None
        and "no validation split" in unvalidated.choices["early_stopping_patience"].reason
    )
    for written in (2, None):  # null in the config turns it off even where the loss decides
        configured = make_plan(
            replace(profile(300), n_valid=10), config(training={"early_stopping_patience": written}), CPU, SMOL
        )
        assert configured["early_stopping_patience"] == written
        assert configured.choices["early_stopping_patience"].source == "config"


def test_an_apple_gpu_gets_a_plan_in_fp32_from_constants_marked_as_estimates():
    from tunesmith.plan.constants import CONSTANTS

    mps = Hardware(device="mps", name="Apple GPU (MPS)", cores=10, memory_gb=32, bf16=False, matmul_gflops=3_000.0)
    plan = make_plan(profile(2_000), config(), mps, SMOL)
    assert plan["bf16"] is False and "MPS" in plan.choices["bf16"].reason
    assert plan.estimate.train_minutes > 0 and plan.estimate.eval_minutes > 0
    for name in ("lm.MAX_LENGTH_CAP", "lm.TOKENS_PER_MICRO_BATCH", "lm.TRAIN_EFFICIENCY", "lm.GENERATION_EFFICIENCY"):
        assert "not measured" in CONSTANTS[f"{name}.mps"].source  # the plan says which numbers it guessed


def test_a_longer_prompt_makes_scoring_slower_through_the_kv_cache_each_step_reads():
    from dataclasses import replace

    from tunesmith.plan.make import decode_context

    short = profile(300)
    longer = {"mean": 430, "p50": 430, "p95": 460, "p99": 470, "max": 480}  # ~400 prompt tokens, the same answers
    dialogue = replace(short, sequence=replace(short.sequence, **longer))
    quick, slow = (make_plan(each, config(), CPU, SMOL).estimate.eval_minutes for each in (short, dialogue))
    assert slow > 1.5 * quick
    assert decode_context(100, 20) == 110  # the prompt and, on average, half the answer


def test_each_generation_call_reads_and_attends_over_prompts_padded_to_its_longest():
    from dataclasses import replace

    from tunesmith.plan.make import _generate_seconds, _quantile

    even = profile(300)
    even = replace(even, sequence=replace(even.sequence, mean=200, p50=200, p95=200, p99=200, max=200))
    outlier = replace(even, sequence=replace(even.sequence, max=1000))  # one long prompt in the data
    assert _quantile(even.sequence, 0.5) == _quantile(even.sequence, 1.0) == 200
    assert _quantile(outlier.sequence, 0.995) == 600  # halfway from the 99th percentile to the longest
    assert _quantile(even.answer, 0.25) == 22.5  # below the median: towards half of it
    # 64 prompts in two calls of 32: the first holds the longest prompts and is padded to them
    two_calls = [_generate_seconds(each, 64, 50, 32, 1, CPU, SMOL) for each in (even, outlier)]
    assert two_calls[1] > 1.2 * two_calls[0]
    # the same prompts in calls of 4: only the first call waits on the outlier
    many_calls = [_generate_seconds(each, 64, 50, 4, 1, CPU, SMOL) for each in (even, outlier)]
    assert many_calls[1] / many_calls[0] < two_calls[1] / two_calls[0]


def test_a_tuned_models_call_decodes_until_its_longest_answer_and_an_untuned_one_to_the_budget():
    from tunesmith.plan.make import _generate_seconds

    data = profile(300)  # training answers: median 30, 95th percentile 50, longest 68 tokens
    one_by_one, all_at_once = (_generate_seconds(data, 64, 200, batch, 1, CPU, SMOL) for batch in (1, 64))
    base = _generate_seconds(data, 64, 200, 64, 1, CPU, SMOL, tuned=False)
    assert base > 2 * all_at_once  # 200 steps against ~80: the longest of 64 answers, 25% over
    capped = _generate_seconds(data, 64, 40, 64, 1, CPU, SMOL)
    assert capped == _generate_seconds(data, 64, 40, 64, 1, CPU, SMOL, tuned=False)  # the budget bounds both
    assert one_by_one > all_at_once  # alone, an answer ends sooner, but each step pays the fixed overhead


def test_training_time_counts_each_tokens_attention_over_its_sequence():
    from tunesmith.plan.make import TRAIN_CONTEXT_COST, TRAIN_EFFICIENCY, _train_seconds

    tokens = 100_000
    short, long = (_train_seconds(tokens, CPU, SMOL, True, context) for context in (64, 512))
    weights = 4 * SMOL.n_params * tokens / (CPU.matmul_gflops * 1e9 * TRAIN_EFFICIENCY["cpu"])
    attention_per_token = 4 * SMOL.n_layers * SMOL.hidden_size * TRAIN_CONTEXT_COST["cpu"]
    assert long - short == pytest.approx(
        attention_per_token * (512 - 64) * tokens / (CPU.matmul_gflops * 1e9 * TRAIN_EFFICIENCY["cpu"])
    )
    assert short > weights  # even short sequences pay for their attention


def test_full_fine_tuning_trains_every_weight_at_its_own_rate_and_costs_more_time_and_memory():
    from dataclasses import replace

    lora = make_plan(profile(200), lora_config(), CPU, SMOL)
    full = make_plan(profile(200), config(training={"method": "full"}), CPU, SMOL)
    assert lora["method"] == "lora" and full["method"] == "full" and full.choices["method"].source == "config"
    assert "lora_r" not in full.choices and "lora_variant" not in full.choices
    assert full["learning_rate"] == 4e-4 < lora["learning_rate"]  # lm.FULL_LEARNING_RATE_BY_PARAMS under 500M
    # 6 flops a weight and token instead of 4; 12 bytes a weight more (gradient and AdamW's two moments)
    assert full.estimate.train_minutes > 1.2 * lora.estimate.train_minutes
    extra_gb = full.estimate.peak_memory_gb - lora.estimate.peak_memory_gb
    assert extra_gb == pytest.approx(SMOL.n_params * 12 / 2**30, rel=1e-6)

    def checkpoint_minutes(method: str) -> float:
        kept = make_plan(profile(200), config(training={"method": method}), CPU, SMOL)
        unsaved = config(training={"method": method}, output={"save_checkpoints": False})
        return kept.estimate.train_minutes - make_plan(profile(200), unsaved, CPU, SMOL).estimate.train_minutes

    from tunesmith.plan.make import CHECKPOINT_WRITE_GBPS

    written = SMOL.n_params * 12 / 2**30 / CHECKPOINT_WRITE_GBPS * full["epochs"] / 60  # weights and moments
    assert checkpoint_minutes("full") - checkpoint_minutes("lora") == pytest.approx(written)
    compiler, llama = replace(CPU, cpp_compiler=True), replace(SMOL, model_type="llama")
    uncompiled = make_plan(profile(20_000), config(training={"method": "full"}), compiler, llama)
    assert uncompiled["compile"] is False and "LoRA adapters only" in uncompiled.choices["compile"].reason


def test_the_plan_trains_in_full_only_where_measured_ahead_and_the_model_fits_the_machine(monkeypatch):
    from dataclasses import replace

    import tunesmith.plan.make as make

    planned = make_plan(profile(200), config(), CPU, SMOL)  # FULL_BY_DEFAULT: as measured
    assert planned["method"] == "full" and planned.choices["method"].reason.startswith("weights, gradients")
    assert planned["learning_rate"] == 4e-4 and "lora_r" not in planned.choices
    small = make_plan(profile(200), config(), replace(CPU, memory_gb=3), SMOL)  # 2 GiB of state > half of 3
    assert small["method"] == "lora" and "too large for this machine" in small.choices["method"].reason
    unknown = make_plan(profile(200), config(), replace(CPU, memory_gb=None), SMOL)
    assert unknown["method"] == "lora"
    assert make_plan(profile(200), config(lora={"r": 8}), CPU, SMOL)["method"] == "lora"
    kl = config(continue_from="runs/earlier", continual={"parent_kl_weight": 0.1})
    assert make_plan(profile(200), kl, CPU, SMOL)["method"] == "lora"
    assert make_plan(profile(200), config(), CPU, SMOL, summaries=True)["method"] == "lora"
    monkeypatch.setattr(make, "FULL_BY_DEFAULT", False)
    assert make_plan(profile(200), config(), CPU, SMOL)["method"] == "lora"


def test_cpu_processes_of_one_run_share_the_memory_a_full_fine_tune_needs():
    from dataclasses import replace

    assert make_plan(profile(200), config(), replace(CPU, memory_gb=6), SMOL)["method"] == "full"  # 2.0 <= 3
    two = make_plan(profile(200), config(), replace(CPU, memory_gb=6, world_size=2), SMOL)  # 4.0 > 3
    assert two["method"] == "lora" and "~4.0 GiB" in two.choices["method"].reason


def test_a_full_fine_tunes_disk_is_its_kept_checkpoints_one_being_written_and_the_model():
    weights, moments = SMOL.n_params * 4, SMOL.n_params * 8  # fp32 weights; AdamW's two fp32 moments
    full = make_plan(profile(200), config(training={"method": "full", "epochs": 10}), CPU, SMOL)
    assert full.estimate.disk_gb == pytest.approx((4 * (weights + moments) + weights) / 2**30)  # 3 kept + 1
    every = config(training={"method": "full", "epochs": 10}, output={"keep_checkpoints": None})
    assert make_plan(profile(200), every, CPU, SMOL).estimate.disk_gb == pytest.approx(
        (10 * (weights + moments) + weights) / 2**30
    )
    unsaved = config(training={"method": "full"}, output={"save_checkpoints": False})
    assert make_plan(profile(200), unsaved, CPU, SMOL).estimate.disk_gb == pytest.approx(weights / 2**30)
    assert make_plan(profile(200), lora_config(), CPU, SMOL).estimate.disk_gb == 0.0


def test_frozen_embeddings_leave_their_gradient_and_moments_out_of_memory_and_checkpoints():
    trained = config(training={"method": "full", "freeze_embeddings": False})
    frozen = make_plan(profile(200), config(training={"method": "full", "freeze_embeddings": True}), CPU, SMOL)
    plain = make_plan(profile(200), trained, CPU, SMOL)
    assert frozen["freeze_embeddings"] is True and frozen.choices["freeze_embeddings"].source == "config"
    embeddings = SMOL.vocab_size * SMOL.hidden_size
    saved = plain.estimate.peak_memory_gb - frozen.estimate.peak_memory_gb
    assert saved == pytest.approx(embeddings * 12 / 2**30, rel=1e-6)  # gradient and two moments
    assert plain.estimate.disk_gb - frozen.estimate.disk_gb == pytest.approx(4 * embeddings * 8 / 2**30)


def test_freezing_embeddings_is_refused_where_an_adapter_is_trained():
    from tunesmith.errors import ConfigError

    for sections in ({"training": {"method": "lora"}}, {"lora": {"r": 8}}):
        sections["training"] = {**sections.get("training", {}), "freeze_embeddings": True}
        with pytest.raises(ConfigError, match="training.freeze_embeddings applies to a full fine-tune"):
            config(**sections)
    small = Hardware(device="cpu", name="small", cores=2, memory_gb=3, bf16=True, matmul_gflops=800.0)
    with pytest.raises(ConfigError, match="the plan trains a LoRA adapter \\(weights, gradients"):
        make_plan(profile(200), config(training={"freeze_embeddings": False}), small, SMOL)


def test_train_on_prompt_is_for_decoders_and_generative_tasks_only(monkeypatch):
    from dataclasses import replace

    import tunesmith.plan.make as make
    from tunesmith.errors import ConfigError

    t5 = replace(SMOL, encoder_decoder=True)
    planned = make_plan(profile(200), config(), CPU, SMOL)  # lm.TRAIN_ON_PROMPT: off, as measured
    assert planned["train_on_prompt"] is False and "behind on the other" in planned.choices["train_on_prompt"].reason
    assert "encoder" in make_plan(profile(200), config(), CPU, t5).choices["train_on_prompt"].reason
    prompts = make_plan(profile(200), config(training={"train_on_prompt": True}), CPU, SMOL)
    assert prompts["train_on_prompt"] is True and prompts.choices["train_on_prompt"].source == "config"
    monkeypatch.setattr(make, "TRAIN_ON_PROMPT", True)
    assert make_plan(profile(200), config(), CPU, SMOL)["train_on_prompt"] is True
    assert make_plan(profile(200), config(), CPU, SMOL, summaries=True)["train_on_prompt"] is False
    with pytest.raises(ConfigError, match="training.train_on_prompt applies to decoder-only models"):
        make_plan(profile(200), config(training={"train_on_prompt": True}), CPU, t5)
    for setting in ("train_on_prompt", "neftune_alpha", "freeze_embeddings"):
        with pytest.raises(ConfigError, match=f"training.{setting}: does not apply to task 'embedding'"):
            config_from_dict({"task": "embedding", "data": {"train": "p.jsonl"}, "training": {setting: True}})
