"""What to train on this data and this machine: concrete models for the data size that the machine's memory
trains, and next steps for the data, with reasons."""

from __future__ import annotations

from dataclasses import dataclass

FEW_PER_CATEGORY = 5
AUGMENT_BELOW = 300
CPU_LIMIT_B = 0.5  # billions of parameters: above it a CPU trains too slowly to iterate (1.7B: ~12x 135M)

# Instruct models of the families tunesmith is tested on (tests/models/test_families.py), smallest first:
# (hub id, billions of parameters).
CANDIDATES = (
    ("HuggingFaceTB/SmolLM2-135M-Instruct", 0.135),
    ("HuggingFaceTB/SmolLM2-360M-Instruct", 0.362),
    ("Qwen/Qwen2.5-0.5B-Instruct", 0.494),
    ("Qwen/Qwen2.5-1.5B-Instruct", 1.54),
    ("HuggingFaceTB/SmolLM2-1.7B-Instruct", 1.71),
    ("meta-llama/Llama-3.2-3B-Instruct", 3.21),
    ("microsoft/Phi-3-mini-4k-instruct", 3.82),
    ("Qwen/Qwen2.5-7B-Instruct", 7.62),
)

# (examples below, the band of model sizes in billions of parameters, why)
MODEL_SIZE_BY_DATA = (
    (
        1_000,
        (0.1, 0.6),
        "under a thousand examples teach facts and a style, not new skills: a small model learns them in minutes, "
        "and a larger one gains little from so few examples while training several times slower",
    ),
    (
        10_000,
        (0.4, 2.0),
        "thousands of examples can shape a 1-2B model, whose better base knowledge shows on unseen questions",
    ),
    (
        float("inf"),
        (1.0, 8.0),
        "tens of thousands of examples carry enough signal for a larger model; LoRA keeps the memory low",
    ),
)


def training_memory_gb(billions: float, device: str) -> float:
    """A cautious peak for LoRA training: the frozen weights (fp32 on a CPU or MPS, bf16 on CUDA) twice over for
    activations, gradients of the adapter and the optimiser, plus 2 GiB for the runtime (135M on a CPU: ~3 GiB,
    what the plan estimates for the demo)."""
    return billions * (2 if device == "cuda" else 4) * 2 + 2


@dataclass(frozen=True)
class Advice:
    topic: str
    advice: str
    reason: str


def recommend(
    analysis: dict, n_train: int, device: str, train_split: str = "train", memory_gb: float | None = None
) -> list[Advice]:
    """Advice for ``n_train`` training examples (after any carving of valid/test) on ``device`` with
    ``memory_gb`` of memory for training (the GPU's on a GPU; None: not known)."""
    advice = [_model_size(n_train, device, memory_gb)]
    advice += _data_advice(analysis, n_train, train_split)
    return advice


def _model_size(n_train: int, device: str, memory_gb: float | None) -> Advice:
    """Concrete models for the data size, kept to what the machine's memory trains (and on a CPU to what it trains
    in reasonable time), with why."""
    (low, high), why = next((band, why) for limit, band, why in MODEL_SIZE_BY_DATA if n_train < limit)
    fits = [
        (name, size) for name, size in CANDIDATES if memory_gb is None or training_memory_gb(size, device) <= memory_gb
    ]
    if device == "cpu":
        fits = [(name, size) for name, size in fits if size <= CPU_LIMIT_B]
    wanted = [(name, size) for name, size in fits if low <= size <= high]
    reason = f"{n_train} training examples: {why}"
    if not wanted:  # the data could use a larger model than the machine trains: the largest that fits
        wanted = fits[-1:] or CANDIDATES[:1]
        limit = "a CPU" if device == "cpu" else f"{memory_gb:.0f} GiB"
        reason += f"; {limit} keeps it below the {low:g}-{high:g}B the data could use"
    elif device == "cpu" and high > CPU_LIMIT_B:
        reason += f"; on a CPU stay under {CPU_LIMIT_B * 1000:.0f}M parameters: a 1.7B model trains ~12x slower"
    name, size = wanted[0] if device == "cpu" else wanted[-1]  # a CPU: the fastest; a GPU: the most knowledge
    others = [other for other, _ in wanted if other != name]
    need = training_memory_gb(size, device)
    memory = f"needs ~{need:.0f} GiB to train with LoRA" + (f" of this machine's {memory_gb:.0f}" if memory_gb else "")
    advice = f"{name} ({size:g}B; {memory})" + (f"; or {', '.join(others)}" if others else "")
    return Advice("model", advice, reason)


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
