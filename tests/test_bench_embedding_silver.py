"""bench/embedding_silver.py: silver pairs (each sentence's nearest others, never a gold pair), the STS-B file they
are written to, the cross-encoder's symmetric score and the weight soup, on tiny models."""

import pytest

from tests.conftest import build_tiny_bert, load_bench


def test_nearest_pairs_are_each_texts_closest_others_less_itself_its_case_copies_and_the_gold_pairs():
    import torch

    silver = load_bench("embedding_silver.py")
    texts = ["a cat sits", "A cat sits ", "a cat sat", "a dog runs", "the dog ran", "a red car"]
    vectors = torch.tensor([[1, 0, 0], [1, 0, 0], [0.9, 0.3, 0], [0, 1, 0], [0.1, 0.95, 0.1], [0, 0, 1]])
    vectors = torch.nn.functional.normalize(vectors.float(), dim=1)
    gold = {frozenset(("a dog runs", "the dog ran"))}

    found = silver.nearest_pairs(texts, vectors, gold, top_k=1)
    pairs = {frozenset((texts[i], texts[j])) for i, j, _ in found}
    assert len(pairs) == len(found)  # each unordered pair once
    assert frozenset(("a cat sits", "a cat sat")) in pairs and frozenset(("A cat sits ", "a cat sat")) in pairs
    assert not any(texts[i].strip().lower() == texts[j].strip().lower() for i, j, _ in found)
    assert not pairs & gold  # "the dog ran" is "a dog runs"'s nearest, but they are a gold pair
    for i, j, cosine in found:
        assert cosine == pytest.approx(float(vectors[i] @ vectors[j]), abs=1e-5)
    assert len(silver.nearest_pairs(texts, vectors, set(), top_k=1)) == len(found) + 1


def test_silver_pairs_are_written_as_an_stsb_file_that_loads_back_with_their_scores(tmp_path):
    from tunesmith.data.pairs import load_pairs

    silver = load_bench("embedding_silver.py")
    rows = [("A plane\ttakes off.", "A plane is\ntaking off.", 0.9), ("A man cooks.", "A dog runs.", 0.0)]
    silver.write_stsb(tmp_path / "silver.csv", rows)

    loaded = load_pairs(tmp_path / "silver.csv", "stsb").records
    assert [(pair.text1, pair.text2) for pair in loaded] == [
        ("A plane takes off.", "A plane is taking off."),
        ("A man cooks.", "A dog runs."),
    ]
    assert [pair.score for pair in loaded] == pytest.approx([0.9, 0.0])


def test_the_cross_encoder_trains_and_scores_a_pair_the_same_either_way_round(tmp_path):
    from tunesmith.data.pairs import Pair

    silver = load_bench("embedding_silver.py")
    model_dir = build_tiny_bert(tmp_path / "bert") / ".." / "transformer"
    records = [Pair("a cat sits on a mat", "a cat is on a mat", 0.9), Pair("a dog runs", "a man cooks rice", 0.1)]
    model, seconds = silver.train_cross_encoder(records * 4, model_dir.resolve(), tmp_path / "out", 1, 5e-4, 42)

    assert seconds > 0
    first, second = silver.cross_scores(model, [("a cat sits", "a dog runs"), ("a dog runs", "a cat sits")])
    assert first == pytest.approx(second, abs=1e-6)
    one_way = model.predict([("a cat sits", "a dog runs"), ("a dog runs", "a cat sits")], show_progress_bar=False)
    assert one_way[0] != pytest.approx(one_way[1], abs=1e-6)  # the model alone is not symmetric: the mean is


def test_a_soup_holds_the_mean_of_its_models_weights(tmp_path):
    silver = load_bench("embedding_silver.py")
    folders = [build_tiny_bert(tmp_path / f"bert{seed}", seed=seed) for seed in (0, 1)]

    souped = silver.soup(folders)
    states = [silver.soup([folder]).state_dict() for folder in folders]
    for name, tensor in souped.state_dict().items():
        if tensor.is_floating_point():
            assert tensor.allclose((states[0][name] + states[1][name]) / 2)
    assert any(not states[0][name].equal(states[1][name]) for name in states[0])
