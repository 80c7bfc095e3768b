"""The ``embedding:`` section: settings of a ``task: embedding`` run (sentence-transformers, contrastive losses).

Training length, batch size and learning rate come from the shared ``training:`` section and the LoRA shape from
``lora:``; what is only about embeddings lives here. Fields left as ``None`` are chosen by the plan.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PairShape = Literal["auto", "stsb", "triplets", "scored_pairs", "labelled_pairs", "classes", "texts"]
Role = Literal["anchor", "positive", "negative", "text1", "text2", "score", "label", "text"]


# The losses that rank in-batch negatives (trained on positives, or triplets); the others score pairs.
RANKING_LOSSES = ("mnrl", "cached_mnrl", "gist", "cached_gist")


class EmbeddingConfig(BaseModel):
    """How an embedding model is trained and scored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data_format: PairShape = Field(
        "auto",
        description="Record shape: triplets (anchor, positive[, negative]), scored_pairs (text1, text2, score), "
        "labelled_pairs (text1, text2, label 0/1), classes (text, label: same label = similar), texts (raw text "
        "only: SimCSE), stsb (the STS Benchmark's tab-separated files); auto detects it from the column names.",
    )
    columns: dict[Role, str] = Field(
        default_factory=dict,
        description="Column holding each role when not under its usual name, e.g. {label: Topic}.",
    )
    score_max: float | None = Field(
        None, gt=0, description="Scores are divided by it; None: 5 when any score exceeds 1 (0..5 scales), else 1."
    )
    loss: Literal["auto", "cosent", "angle", "cosine", "mnrl", "cached_mnrl", "gist", "cached_gist"] = Field(
        "auto",
        description="cosent/angle/cosine for scored or labelled pairs, (cached_)mnrl or (cached_)gist for positives; "
        "auto per shape.",
    )
    positives_mnrl: bool | None = Field(
        None, description="Also train in-batch-negatives ranking on the pairs scored >= positive_threshold."
    )
    positive_threshold: float = Field(0.8, gt=0, le=1, description="Normalised score from which a pair is a positive.")
    mini_batch_size: int = Field(
        32, ge=1, description="cached_mnrl, cached_gist: texts per forward pass (memory), not per step."
    )
    matryoshka_dims: list[int] | None = Field(
        None, description="Train (MatryoshkaLoss) and score at these dimensions; the plan picks full, 256, 128, 64."
    )
    method: Literal["auto", "full", "lora"] = Field("auto", description="Full fine-tuning or a LoRA adapter.")
    max_seq_length: int | None = Field(None, ge=8, description="Tokens per text; the plan covers the longest 99%.")
    simcse: Literal["off", "only", "first"] = Field(
        "off", description="Unsupervised SimCSE on the texts: alone, or as a first stage before supervised training."
    )
    simcse_epochs: float = Field(1.0, gt=0, description="Passes of the SimCSE stage.")
    pairs_per_text: int = Field(2, ge=1, description="classes: positive and negative pairs built per text.")
    hard_negatives: Literal["auto", "off", "tfidf", "dense"] = Field(
        "auto",
        description="Mine a hard negative for each positive pair: tfidf (word overlap in negative_band) or dense "
        "(the model's own nearest texts below the positive by negative_margin, sentence-transformers' miner); "
        "true means tfidf; auto: the plan's choice by data shape.",
    )
    negative_band: tuple[float, float] = Field(
        (0.3, 0.5), description="tfidf: TF-IDF cosine band a mined negative must fall in (close, not a paraphrase)."
    )
    negative_margin: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="dense: a negative scores at least this share of the positive's similarity below it (a text "
        "closer than that is likely a false negative).",
    )
    negative_rounds: int = Field(
        1,
        ge=1,
        le=2,
        description="dense: 2 mines again with the half-trained model and trains the second half on those.",
    )
    ensemble_members: int | None = Field(
        None,
        ge=1,
        le=8,
        description="Encoders trained: the run's model and the rest, each from the base with its own seed (data "
        "order, negatives). With 2 or more each is scored alone and together (the mean of their unit-length "
        "embeddings), and the ensemble is distilled into the run's model (EmbedDistill's cosine loss on the "
        "training texts, at every Matryoshka size). None: the plan's choice (one).",
    )
    distill_epochs: float | None = Field(
        None, gt=0, description="ensemble_members >= 2: passes over the training texts distilling the ensemble."
    )
    validate_pairs: bool = Field(True, description="Drop duplicates, empty texts and contradictory labels first.")
    curriculum: bool = Field(False, description="Train easy pairs first, then hard ones (by TF-IDF overlap).")
    max_train_examples: int | None = Field(None, ge=1, description="Train on a seeded sample of this many records.")
    max_eval_examples: int | None = Field(None, ge=1, description="Score a seeded sample of this many test records.")
    retrieval_k: list[int] = Field([1, 5, 10], description="Recall@k reported at these k.")
    eval_batch_size: int = Field(64, ge=1, description="Texts per batch when encoding for evaluation.")
    export_int8: bool = Field(
        True,
        description="Also write model-int8/ (ONNX, dynamically quantised to INT8 for CPUs) and measure its speed and "
        "score change.",
    )

    @field_validator("hard_negatives", mode="before")
    @classmethod
    def _boolean_means_tfidf(cls, value):
        return ("tfidf" if value else "off") if isinstance(value, bool) else value

    @model_validator(mode="after")
    def _consistent(self) -> EmbeddingConfig:
        low, high = self.negative_band
        if not 0 <= low < high <= 1:
            raise ValueError(f"negative_band must satisfy 0 <= low < high <= 1, got {list(self.negative_band)}")
        if self.matryoshka_dims is not None and any(dim < 1 for dim in self.matryoshka_dims):
            raise ValueError("matryoshka_dims must be positive")
        for name, method in (("negative_band", "tfidf"), ("negative_margin", "dense"), ("negative_rounds", "dense")):
            # A saved config.yaml writes every default out: only a changed value is refused.
            changed = getattr(self, name) != type(self).model_fields[name].default
            if name in self.model_fields_set and changed and self.hard_negatives != method:
                raise ValueError(f"{name} applies only to hard_negatives: {method} (it is {self.hard_negatives})")
        if self.distill_epochs is not None and (self.ensemble_members or 1) < 2:
            raise ValueError("distill_epochs applies only to ensemble_members >= 2 (one model: nothing to distil)")
        if self.negative_rounds == 2 and self.curriculum:
            raise ValueError("negative_rounds: 2 with curriculum: each curriculum phase already mines with its model")
        return self
