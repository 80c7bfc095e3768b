from tunesmith.plan.recommend import recommend


def analysis(n, leakage=(), conflicting=(), categories=None, augmented=0):
    return {
        "counts": {"train": n},
        "augmented": {"train": augmented},
        "leakage": list(leakage),
        "duplicates": {"train": {"exact": [], "conflicting": list(conflicting), "near": []}},
        "categories": {"train": categories or {}},
    }


def test_a_few_hundred_examples_get_a_small_model_and_augmentation():
    advice = {item.topic: item for item in recommend(analysis(200), 200, "cpu")}
    assert "under 1B" in advice["model"].advice and "200 training examples" in advice["model"].reason
    assert "augment" in advice


def test_more_data_allows_a_larger_model_but_a_cpu_is_warned():
    [model] = [a for a in recommend(analysis(5000), 5000, "cpu") if a.topic == "model"]
    assert "0.5B-2B" in model.advice and "on a CPU stay under 500M" in model.reason
    [model] = [a for a in recommend(analysis(50_000), 50_000, "cuda") if a.topic == "model"]
    assert "1B-8B" in model.advice


def test_data_problems_become_advice():
    found = analysis(2000, leakage=[{}], conflicting=[["a", "b"]], categories={"rare": 2, "common": 50})
    topics = {item.topic: item for item in recommend(found, 2000, "cpu")}
    assert {"split", "fix", "collect"} <= set(topics) and "rare" in topics["collect"].advice
    assert "augment" not in topics  # enough data
