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


def test_silver_pairs_are_labelled_by_the_teacher_and_never_a_gold_pair(tmp_path):
    import numpy as np
    from scipy.stats import pearsonr
    from sentence_transformers import SentenceTransformer

    from tunesmith.data.pairs import Pair

    silver = load_bench("embedding_silver.py")
    bert = build_tiny_bert(tmp_path / "bert")
    words = ["a cat sits on a mat", "a cat is on a mat", "a dog runs", "a man cooks rice", "the dog ran", "a red car"]
    gold = [Pair(words[0], words[1], 0.9), Pair(words[2], words[4], 0.8), Pair(words[3], words[5], 0.1)]
    dev = [Pair(words[0], words[2], 0.2), Pair(words[1], words[3], 0.0)]
    cross, _ = silver.train_cross_encoder(gold, (bert / ".." / "transformer").resolve(), tmp_path / "out", 1, 5e-4, 42)

    pairs, dev_teacher, sentences = silver.label_silver(bert, cross, gold, dev, top_k=2)
    assert sentences == len(words) and len(dev_teacher) == len(dev)
    assert pairs and not {frozenset((a, b)) for a, b, _ in pairs} & {frozenset((p.text1, p.text2)) for p in gold}
    assert all(0 <= score <= 1 for _, _, score in pairs)
    # the teacher is the cross-encoder's score averaged with the bi-encoder's cosine on a line: it follows both
    bi = SentenceTransformer(str(bert), device="cpu")
    first, second = ([pair[side] for pair in pairs] for side in (0, 1))
    cosines = (bi.encode(first, normalize_embeddings=True) * bi.encode(second, normalize_embeddings=True)).sum(1)
    cross_part = silver.cross_scores(cross, [(a, b) for a, b, _ in pairs])
    rest = 2 * np.array([score for _, _, score in pairs]) - cross_part  # slope * cosine + intercept, where unclipped
    unclipped = [0 < score < 1 for _, _, score in pairs]
    assert sum(unclipped) > 2
    assert pearsonr(cosines[unclipped], rest[unclipped])[0] == pytest.approx(1, abs=1e-3)
