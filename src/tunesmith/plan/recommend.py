"""What to train on this data and this machine: a model size class and next steps for the data, with reasons."""

from __future__ import annotations

from dataclasses import dataclass

FEW_PER_CATEGORY = 5
AUGMENT_BELOW = 300
CPU_MODEL_LIMIT = "500M"

# (examples below, size class, why)
MODEL_SIZE_BY_DATA = (
    (
        1_000,
        "a model under 1B parameters (135M-500M, e.g. SmolLM2-135M/360M-Instruct, Qwen2.5-0.5B-Instruct)",
        "under a thousand examples teach facts and a style, not new skills: a small model learns them in minutes, "
        "and a larger one gains little from so few examples while training several times slower",
    ),
    (
        10_000,
        "a model of 0.5B-2B parameters (e.g. Qwen2.5-1.5B-Instruct, SmolLM2-1.7B-Instruct)",
        "thousands of examples can shape a 1-2B model, whose better base knowledge shows on unseen questions",
    ),
    (
        float("inf"),
        "a model of 1B-8B parameters, with a GPU",
        "tens of thousands of examples carry enough signal for a larger model; LoRA keeps the memory low",
    ),
)


@dataclass(frozen=True)
class Advice:
    topic: str
    advice: str
    reason: str


def recommend(analysis: dict, n_train: int, device: str, train_split: str = "train") -> list[Advice]:
    """Advice for ``n_train`` training examples (after any carving of valid/test) on ``device``."""
    advice = [_model_size(n_train, device)]
    advice += _data_advice(analysis, n_train, train_split)
    return advice


def _model_size(n_train: int, device: str) -> Advice:
    size, reason = next((size, why) for limit, size, why in MODEL_SIZE_BY_DATA if n_train < limit)
    if device == "cpu" and n_train >= MODEL_SIZE_BY_DATA[0][0]:
        reason += f"; on a CPU stay under {CPU_MODEL_LIMIT} parameters: a 1.7B model trains ~12x slower than 135M"
    return Advice("model", size, f"{n_train} training examples: {reason}")


def _data_advice(analysis: dict, n_train: int, train_split: str) -> list[Advice]:
    found = []
    if 0 < n_train < AUGMENT_BELOW and not analysis["augmented"].get(train_split):
        found.append(
            Advice(
                "augment",
                "tunesmith augment: a few edited phrasings of each question (answers untouched)",
                f"{n_train} examples give each fact one phrasing; test questions asked in other words are missed",
            )
        )
    if analysis["leakage"]:
        found.append(
            Advice(
                "split",
                "tunesmith split: re-split so near-duplicate questions stay in one split",
                f"{len(analysis['leakage'])} test/valid questions (nearly) repeat another split's: scores would lie",
            )
        )
    conflicting = sum(len(d["conflicting"]) for d in analysis["duplicates"].values())
    if conflicting:
        found.append(
            Advice("fix", "give each repeated question one answer", f"{conflicting} questions have different answers")
        )
    rare = [name for name, n in analysis["categories"].get(train_split, {}).items() if n < FEW_PER_CATEGORY]
    if rare:
        shown = ", ".join(rare[:5]) + (" ..." if len(rare) > 5 else "")
        reason = f"{len(rare)} categories have fewer than {FEW_PER_CATEGORY} training examples"
        found.append(Advice("collect", f"more examples for {shown}", reason))
    return found
