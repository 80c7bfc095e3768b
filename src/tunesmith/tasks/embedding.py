"""The embedding task: a sentence-transformers model (full fine-tuning or a LoRA adapter), its training sets and
their losses (CoSENT, cosine similarity, in-batch negatives ranking and its cached variant, each optionally
wrapped in MatryoshkaLoss).

A training set is a ``datasets.Dataset`` whose name is the loss it trains with; the columns are in the order the
loss reads them: ``(sentence1, sentence2, score)`` for cosent/cosine, ``(anchor, positive[, negative])`` for mnrl.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.config.embedding import RANKING_LOSSES
from tunesmith.data.pairs import Pair, PairSet, pairs_from_classes

LORA_TARGETS_BERT = ["query", "key", "value", "dense"]


@dataclass
class EmbeddingBundle:
    model: object  # SentenceTransformer
    method: str  # "full" or "lora"
    model_dir: Path | None = None  # the folder it was built from (the base model the run is compared with)
    members: list[Path] = field(default_factory=list)  # an ensemble run's member folders, scored beside it

    @property
    def dimension(self) -> int:
        return self.model.get_sentence_embedding_dimension()


def load_sentence_model(
    model_dir: Path, max_seq_length: int | None = None, device: str = "cpu", trust_remote_code: bool = False
):
    """A SentenceTransformer from a local folder (a plain transformers folder gets mean pooling); the folder's own
    code (auto_map) runs only with ``trust_remote_code`` (the run's ``model.trust_remote_code``)."""
    from sentence_transformers import SentenceTransformer

    options = {"device": device, "local_files_only": True, "trust_remote_code": trust_remote_code}
    model = SentenceTransformer(str(model_dir), **options)
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model


def build_embedding(
    model_dir: Path, plan, lora_dropout: float = 0.0, device: str = "cpu", trust_remote_code: bool = False
) -> EmbeddingBundle:
    """Load the base model and, for ``method: lora``, wrap its transformer in a fresh LoRA adapter."""
    model = load_sentence_model(model_dir, plan["max_seq_length"], device, trust_remote_code)
    if plan["method"] == "lora":
        attach_lora(model, plan["lora_r"], plan["lora_alpha"], lora_dropout, plan["target_modules"])
    return EmbeddingBundle(model, plan["method"])


def attach_lora(model, r: int, alpha: float, dropout: float, target_modules) -> None:
    """Inject a fresh LoRA adapter into the model's transformer (only the adapter trains).

    Through sentence-transformers' own PEFT support (``add_adapter``), not a PeftModel wrapper: its checkpoints
    then load back into the same module names, which the best-checkpoint and resume paths of its trainer need.
    """
    from peft import LoraConfig, TaskType

    config = LoraConfig(
        task_type=TaskType.FEATURE_EXTRACTION,
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules,
    )
    model.add_adapter(config)


def save_adapter(model, folder: Path) -> None:
    """The adapter alone (adapter_config.json, adapter_model.safetensors), as PeftModel.from_pretrained reads it."""
    model[0].auto_model.save_pretrained(folder)


def merge_lora(model, base_dir: Path, adapter_dir: Path, trust_remote_code: bool = False):
    """A plain sentence-transformers model: the base from ``base_dir`` with the adapter saved in ``adapter_dir``
    folded into its weights (peft's merge_and_unload), on ``model``'s device and with its sequence length."""
    from peft import PeftModel

    merged = load_sentence_model(base_dir, model.max_seq_length, str(model.device), trust_remote_code)
    merged[0].auto_model = PeftModel.from_pretrained(merged[0].auto_model, adapter_dir).merge_and_unload()
    return merged


def training_sets(
    train: PairSet,
    loss: str,
    positives_mnrl: bool,
    positive_threshold: float,
    pairs_per_text: int,
    seed: int,
    miner: Miner | None = None,
) -> dict[str, list[tuple]]:
    """Rows per loss name for one training PairSet (see the module docstring for the column orders).

    With a ``miner`` (:func:`tfidf_miner`, :func:`dense_miner`), the ranking rows get a hard negative each; scored
    and labelled pairs then also train in-batch ranking on their positives.
    """
    if train.shape == "texts":
        return {"mnrl": simcse_rows(train.texts())}
    ranking = loss if loss in RANKING_LOSSES else "mnrl"
    if train.shape == "triplets":
        rows = [(t.anchor, t.positive, t.negative) if t.negative else (t.anchor, t.positive) for t in train.records]
        sets = {ranking: rows}
    else:
        pairs = pairs_from_classes(train.records, pairs_per_text, seed) if train.shape == "classes" else train.records
        sets = {}
        if loss not in RANKING_LOSSES:
            sets[loss] = [(p.text1, p.text2, p.score) for p in pairs]
        if loss in RANKING_LOSSES or positives_mnrl or miner is not None:
            sets[ranking] = positive_rows(pairs, positive_threshold)
    if miner is not None and sets.get(ranking):
        labels = {r.text: r.label for r in train.records} if train.shape == "classes" else None
        sets[ranking] = with_hard_negatives(sets[ranking], train.texts(), miner, labels, seed)
    return {name: rows for name, rows in sets.items() if rows}


# (anchor, positive) pairs, candidate texts, labels (text -> class) or None -> a negative or None per pair.
Miner = Callable[[list[tuple[str, str]], list[str], dict | None], list[str | None]]


def tfidf_miner(band: tuple[float, float]) -> Miner:
    """The candidate most similar to the anchor by TF-IDF cosine within ``band`` (:mod:`tunesmith.data.negatives`)."""
    from tunesmith.data.negatives import mine_hard_negatives

    def mine(pairs, candidates, labels):
        return [triplet.negative for triplet in mine_hard_negatives(pairs, candidates, band, labels)[0]]

    return mine


# Candidates the dense miner keeps per anchor before dropping the anchor's own class (classes data): enough that a
# text of another class is almost always among them.
DENSE_CANDIDATES = 10


def dense_miner(model, relative_margin: float, batch_size: int = 64) -> Miner:
    """The candidate ``model`` ranks closest to the anchor while scoring at least ``relative_margin`` of the
    positive's similarity below the positive (NV-Retriever's TopK-PercPos; closer ones are likely false negatives),
    through sentence-transformers' ``mine_hard_negatives``, the anchor's own class skipped."""

    def mine(pairs, candidates, labels):
        from datasets import Dataset
        from sentence_transformers.util import mine_hard_negatives

        if not pairs:
            return []
        anchors, positives = [anchor for anchor, _ in pairs], [positive for _, positive in pairs]
        mined = mine_hard_negatives(
            Dataset.from_dict({"anchor": anchors, "positive": positives}),
            model,
            corpus=candidates,
            relative_margin=relative_margin,
            num_negatives=DENSE_CANDIDATES if labels else 1,
            sampling_strategy="top",
            output_format="triplet",  # one row per negative kept, the closest first
            batch_size=batch_size,
            verbose=False,
        )
        found: dict[tuple[str, str], str] = {}
        for row in mined:
            key, negative = (row["anchor"], row["positive"]), row["negative"]
            if key in found or negative in key or (labels and labels.get(negative) == labels.get(row["anchor"])):
                continue
            found[key] = negative
        return [found.get(pair) for pair in zip(anchors, positives)]

    return mine


def with_hard_negatives(rows, candidates, miner: Miner, labels, seed: int) -> list[tuple[str, str, str]]:
    """(anchor, positive, negative) rows: the ``miner``'s negative where it found one, else a random text (never
    the anchor, the positive, or, with ``labels``, a text of the anchor's class)."""
    rng = random.Random(seed)
    filled = [row for row in rows if len(row) == 3]  # negatives given in the data are kept
    pairs = [row for row in rows if len(row) == 2]
    negatives = miner(pairs, candidates, labels) if pairs else []
    for (anchor, positive), negative in zip(pairs, negatives):
        for _ in range(20):
            if negative is not None:
                break
            pick = rng.choice(candidates)
            same_class = labels is not None and labels.get(pick) == labels.get(anchor)
            if pick not in (anchor, positive) and not same_class:
                negative = pick
        if negative is not None:
            filled.append((anchor, positive, negative))
    return filled


def positive_rows(pairs: list[Pair], threshold: float) -> list[tuple[str, str]]:
    """(anchor, positive) rows from the pairs scored at or above ``threshold``."""
    return [(p.text1, p.text2) for p in pairs if p.score >= threshold]


def simcse_rows(texts: list[str]) -> list[tuple[str, str]]:
    """SimCSE: each text is its own positive; dropout makes the two encodings differ, the batch gives negatives."""
    return [(text, text) for text in texts]


def make_losses(model, names, matryoshka_dims: list[int] | None, mini_batch_size: int = 32) -> dict:
    """The loss module for each training set's name, wrapped in MatryoshkaLoss when dimensions are given.

    ``gist``/``cached_gist`` (GISTEmbed) are guided by a frozen copy of the model as it is before training: an
    in-batch negative the guide finds closer to the anchor than the positive is a likely false negative and is
    left out (Solatorio 2024)."""
    import copy

    from sentence_transformers.sentence_transformer import losses

    guide = None
    built = {}
    for name in names:
        if name == "cosent":
            loss = losses.CoSENTLoss(model)
        elif name == "angle":
            loss = losses.AnglELoss(model)
        elif name == "cosine":
            loss = losses.CosineSimilarityLoss(model)
        elif name == "mnrl":
            loss = losses.MultipleNegativesRankingLoss(model)
        elif name == "cached_mnrl":
            loss = losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=mini_batch_size)
        elif name in ("gist", "cached_gist"):
            if guide is None:
                guide = copy.deepcopy(model).eval().requires_grad_(False)
            loss = (
                losses.GISTEmbedLoss(model, guide)
                if name == "gist"
                else losses.CachedGISTEmbedLoss(model, guide, mini_batch_size=mini_batch_size)
            )
        elif name == "distill":  # labels: the teacher's embeddings of each text (Matryoshka cuts them too)
            loss = losses.EmbedDistillLoss(model, distance_metric="cosine")
        else:
            raise ValueError(f"unknown loss '{name}'")
        if matryoshka_dims:
            loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=list(matryoshka_dims))
        built[name] = loss
    return built


class EnsembleEncoder:
    """Several trained encoders of the same base used as one: the mean of their unit-length embeddings (cut to a
    Matryoshka size like any embedding). Members are loaded one at a time, so encoding holds one in memory."""

    def __init__(self, folders: list[Path], max_seq_length: int | None, device: str, trust_remote_code: bool) -> None:
        self.folders, self.max_seq_length = list(folders), max_seq_length
        self.device, self.trust_remote_code = device, trust_remote_code

    def encode(self, texts: list[str], batch_size: int = 64, **_ignored):
        total = None
        for folder in self.folders:
            member = load_sentence_model(folder, self.max_seq_length, self.device, self.trust_remote_code)
            embeddings = unit_embeddings(member, texts, batch_size)
            total = embeddings if total is None else total + embeddings
            del member
        return total / len(self.folders)


def unit_embeddings(model, texts: list[str], batch_size: int = 64):
    """float32 embeddings of ``texts``, each scaled to unit length."""
    return model.encode(
        texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
    )


def distill_dataset(texts: list[str], targets):
    """(text, label = the teacher's embedding of it) rows for the ``distill`` loss."""
    from datasets import Dataset

    return Dataset.from_dict({"text": list(texts), "label": [row.tolist() for row in targets]})


def to_dataset(rows: list[tuple]):
    """Rows of one training set as a Dataset with the column names the losses expect."""
    from datasets import Dataset

    width = len(rows[0])
    if isinstance(rows[0][-1], float):
        names = ("sentence1", "sentence2", "score")
    else:
        names = ("anchor", "positive", "negative")[:width]
    if any(len(row) != width for row in rows):  # triplets where only some rows have a negative: keep the pairs
        rows, names = [row[:2] for row in rows], names[:2]
    return Dataset.from_dict({name: [row[i] for row in rows] for i, name in enumerate(names)})
