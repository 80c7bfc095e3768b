from tunesmith.plan.recommend import recommend


def analysis(n, leakage=(), conflicting=(), categories=None, augmented=0):
    return {
        "counts": {"train": n},
        "augmented": {"train": augmented},
        "leakage": list(leakage),
        "duplicates": {"train": {"exact": [], "conflicting": list(conflicting), "near": []}},
        "categories": {"train": categories or {}},
    }


def model_advice(n, device, memory_gb=None):
    [model] = [item for item in recommend(analysis(n), n, device, memory_gb=memory_gb) if item.topic == "model"]
    return model


def test_a_few_hundred_examples_get_a_small_named_model_and_augmentation():
    advice = {item.topic: item for item in recommend(analysis(200), 200, "cpu", memory_gb=16)}
    assert advice["model"].advice.startswith("HuggingFaceTB/SmolLM2-135M-Instruct (0.135B; needs ~3 GiB")
    assert "of this machine's 16" in advice["model"].advice and "200 training examples" in advice["model"].reason
    assert "augment" in advice
    on_a_gpu = model_advice(200, "cuda", memory_gb=24)  # the most knowledge the data's size band holds
    assert on_a_gpu.advice.startswith("Qwen/Qwen2.5-0.5B-Instruct") and "SmolLM2-135M" in on_a_gpu.advice


def test_more_data_names_larger_models_that_fit_the_memory_and_a_cpu_is_warned():
    cpu = model_advice(5000, "cpu", memory_gb=32)
    assert cpu.advice.startswith("Qwen/Qwen2.5-0.5B-Instruct") and "on a CPU stay under 500M" in cpu.reason
    large_gpu = model_advice(50_000, "cuda", memory_gb=80)
    assert large_gpu.advice.startswith("Qwen/Qwen2.5-7B-Instruct") and "Llama-3.2-3B" in large_gpu.advice
    small_gpu = model_advice(50_000, "cuda", memory_gb=16)  # 7B needs ~32 GiB, Phi-3 ~17: the largest that fits
    assert small_gpu.advice.startswith("meta-llama/Llama-3.2-3B-Instruct") and "Qwen2.5-7B" not in small_gpu.advice
    tiny_gpu = model_advice(50_000, "cuda", memory_gb=8.5)  # 1.5B needs ~8.2 GiB in bf16, 1.7B ~8.8
    assert tiny_gpu.advice.startswith("Qwen/Qwen2.5-1.5B-Instruct") and "keeps it below" not in tiny_gpu.reason
    unknown = model_advice(50_000, "cuda")  # memory not known: the band alone
    assert unknown.advice.startswith("Qwen/Qwen2.5-7B-Instruct") and "machine" not in unknown.advice


def test_a_machine_too_small_for_the_band_gets_the_largest_model_it_trains_and_says_so():
    small = model_advice(5000, "cuda", memory_gb=3.5)  # Qwen2.5-0.5B would need ~4 GiB
    assert small.advice.startswith("HuggingFaceTB/SmolLM2-360M-Instruct") and "4 GiB keeps it below" in small.reason


def test_data_problems_become_advice():
    found = analysis(2000, leakage=[{}], conflicting=[["a", "b"]], categories={"rare": 2, "common": 50})
    topics = {item.topic: item for item in recommend(found, 2000, "cpu")}
    assert {"split", "fix", "collect"} <= set(topics) and "rare" in topics["collect"].advice
    assert "augment" not in topics  # enough data
