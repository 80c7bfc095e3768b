"""The embedding plan: every value with a reason, values from the config win, choices follow data and model."""

from tunesmith.config import config_from_dict
from tunesmith.plan import Hardware, LengthStats, ModelInfo, Plan
from tunesmith.plan.embedding import EmbeddingProfile, make_embedding_plan

CPU = Hardware(device="cpu", name="test cpu", cores=2, memory_gb=24, bf16=True, matmul_gflops=800.0)
MINILM = ModelInfo(n_params=22_713_216, hidden_size=384, n_layers=6, vocab_size=30522, max_positions=512)
LARGE = ModelInfo(n_params=335_000_000, hidden_size=1024, n_layers=24, vocab_size=30522, max_positions=512)


def profile(n_train=5000, shape="scored_pairs", longest=70, p95=30) -> EmbeddingProfile:
    lengths = LengthStats(mean=14, p50=12, p95=p95, p99=min(longest, 2 * p95), max=longest, total=14 * n_train)
    return EmbeddingProfile(shape, n_train, 0, 1500, 0, lengths, 28 * n_train, 2.0, 3000)


def config(**sections):
    return config_from_dict({"task": "embedding", "data": {"train": "t.csv"}, **sections})


def test_every_choice_has_a_reason_and_comes_from_the_plan_by_default():
    plan = make_embedding_plan(profile(), config(), CPU, MINILM)
    for name in ("method", "loss", "matryoshka_dims", "max_seq_length", "epochs", "learning_rate", "batch_size"):
        assert plan.choices[name].source == "plan" and plan.choices[name].reason, name
    assert plan["method"] == "full" and plan["loss"] == "cosent" and plan["matryoshka_dims"] == [384, 256, 128, 64]
    assert plan["max_seq_length"] == 72 and plan.estimate.total_steps == plan.estimate.steps_per_epoch * plan["epochs"]
    assert Plan.from_dict(plan.to_dict()).choices == plan.choices


def test_values_set_in_the_config_win():
    settings = {"method": "lora", "loss": "mnrl", "matryoshka_dims": [64], "max_seq_length": 40}
    plan = make_embedding_plan(
        profile(),
        config(embedding=settings, training={"epochs": 3, "learning_rate": 1e-4}, lora={"r": 8}),
        CPU,
        MINILM,
    )
    for name, value in {**settings, "epochs": 3, "learning_rate": 1e-4, "lora_r": 8}.items():
        assert plan[name] == value and plan.choices[name].source == "config", name
    assert plan["lora_alpha"] == 16 and plan["batch_size"] == 64  # in-batch negatives want a bigger batch


def test_large_models_get_lora_at_a_higher_rate_and_little_data_more_epochs():
    large = make_embedding_plan(profile(), config(), CPU, LARGE)
    assert large["method"] == "lora" and large["learning_rate"] > 1e-4 and large["target_modules"] == "all-linear"
    assert make_embedding_plan(profile(300), config(), CPU, MINILM)["epochs"] > large["epochs"]


def test_long_texts_are_cut_and_raw_texts_train_with_in_batch_negatives():
    long_texts = make_embedding_plan(profile(longest=700, p95=150, shape="classes"), config(), CPU, MINILM)
    assert long_texts["max_seq_length"] == 128 and "cut" in long_texts.choices["max_seq_length"].reason
    assert long_texts["loss"] == "cosent"
    raw = make_embedding_plan(profile(shape="texts"), config(), CPU, MINILM)
    assert raw["loss"] == "mnrl" and raw["batch_size"] == 64


def test_simcse_alone_on_a_trained_model_is_one_gentle_pass():
    for plan in (
        make_embedding_plan(profile(300, shape="texts"), config(), CPU, MINILM),
        make_embedding_plan(profile(300, shape="classes"), config(embedding={"simcse": "only"}), CPU, MINILM),
    ):
        assert (plan["epochs"], plan["learning_rate"]) == (1, 1e-5) and "SimCSE" in plan.choices["epochs"].reason
    supervised = make_embedding_plan(profile(300, shape="classes"), config(), CPU, MINILM)
    assert supervised["epochs"] == 4 and supervised["learning_rate"] == 5e-5


def test_a_time_budget_cuts_the_epochs_to_fit():
    free = make_embedding_plan(profile(300), config(), CPU, MINILM)
    per_epoch = free.estimate.train_minutes / free["epochs"]
    budget = per_epoch * 1.5
    cut = make_embedding_plan(profile(300), config(training={"time_budget_minutes": budget}), CPU, MINILM)
    assert free["epochs"] == 4 and abs(cut["epochs"] - 1.5) <= 0.01  # a fractional epoch count fills the budget
    assert cut.estimate.train_minutes <= budget * 1.02  # the last step rounds up
    assert cut.choices["epochs"].reason.startswith("cut from 4 to fit time_budget_minutes")
    fixed = config(training={"time_budget_minutes": budget, "epochs": 3})
    assert make_embedding_plan(profile(300), fixed, CPU, MINILM)["epochs"] == 3  # a set value still wins


def test_hard_negatives_by_data_shape_and_their_rows_in_the_steps():
    from tunesmith.plan.embedding import CLASS_NEGATIVES

    classes = make_embedding_plan(profile(1000, shape="classes"), config(), CPU, MINILM)
    assert (
        classes["hard_negatives"] == CLASS_NEGATIVES != "off"
        and "IT tickets" in classes.choices["hard_negatives"].reason
    )
    plain = make_embedding_plan(
        profile(1000, shape="classes"), config(embedding={"hard_negatives": "off"}), CPU, MINILM
    )
    assert plain.choices["hard_negatives"].source == "config" and plain["epochs"] == classes["epochs"]
    # 1,000 texts build 2,000 pairs; half are positives, trained again beside their mined negatives: 3,000 rows a
    # pass at batch 16 (the IT tickets run with TF-IDF negatives took 376 steps in 2 epochs, without 250)
    assert (classes.estimate.steps_per_epoch, plain.estimate.steps_per_epoch) == (188, 125)
    for shape, settings in (("scored_pairs", {}), ("triplets", {}), ("texts", {}), ("classes", {"simcse": "only"})):
        plan = make_embedding_plan(profile(1000, shape=shape), config(embedding=settings), CPU, MINILM)
        assert plan["hard_negatives"] == "off" and plan.choices["hard_negatives"].source == "plan", shape


def test_an_ensemble_is_chosen_in_the_config_and_costs_each_member_plus_the_distillation():
    import pytest

    from tunesmith.errors import ConfigError

    single = make_embedding_plan(profile(), config(), CPU, MINILM)
    assert single["ensemble_members"] == 1 and single.choices["ensemble_members"].source == "plan"
    assert "distill_epochs" not in single.choices
    three = make_embedding_plan(profile(), config(embedding={"ensemble_members": 3}), CPU, MINILM)
    assert three.choices["ensemble_members"].source == "config" and three["distill_epochs"] == 1.0
    assert three.estimate.total_steps == single.estimate.total_steps  # steps are each member's
    # three members' training, then the teacher's encoding and one distillation pass: more than 3x one model
    assert three.estimate.train_minutes > 3 * single.estimate.train_minutes
    # base and tuned, then each member alone and again inside the ensemble: 8 encodings of the test split, not 2
    assert three.estimate.eval_minutes == pytest.approx(4 * single.estimate.eval_minutes)
    with pytest.raises(ConfigError, match="distill_epochs applies only to ensemble_members >= 2"):
        config(embedding={"distill_epochs": 2})
    with pytest.raises(ConfigError, match="ensemble_members"):
        config(embedding={"ensemble_members": 0})


def test_training_in_fp32_on_a_cpu_is_planned_at_the_measured_fp32_speed():
    from tunesmith.plan.embedding import FP32_CPU_TEXTS_PER_SECOND, MEASURED_TEXTS_PER_SECOND

    bf16 = make_embedding_plan(profile(), config(), CPU, MINILM)
    fp32 = make_embedding_plan(profile(), config(training={"bf16": False}), CPU, MINILM)
    assert bf16["bf16"] is True and fp32["bf16"] is False
    ratio = MEASURED_TEXTS_PER_SECOND["cpu"] / FP32_CPU_TEXTS_PER_SECOND  # 125 / 58 texts a second
    # validation is encoded at the same speed either way: the training part alone scales
    assert 0.9 * ratio < fp32.estimate.train_minutes / bf16.estimate.train_minutes <= ratio
