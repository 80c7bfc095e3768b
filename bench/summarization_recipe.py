"""Dialogue summaries: tunesmith's default plan against the usual SFTTrainer recipe, side by side in one invocation.

    tunesmith  `tunesmith train` on examples/samsum.yaml as it ships (the plan's rank, targets, rate, epochs,
               and the decoding it chooses on the validation dialogues after training), base model scored on the
               same test split in the same run
    recipe     TRL SFTTrainer + PEFT LoRA r=16 (alpha 32, dropout 0.05) on q,k,v,o, lr 2e-4, one epoch, bf16,
               TRL's default batch of 8, loss on the completion; the same prompt, train and test split

Both models are scored by the same code (tunesmith.metrics, ROUGE with stemming from rouge-score) on the same
held-out dialogues; the recipe's model twice: greedy (how the recipe is usually decoded) and with the decoding
tunesmith's plan chose, so the training and the decoding each show their share. Each variant runs in its own
subprocess, so peak memory (RSS high-water mark, training and scoring) does not mix; the recipe reuses the split
tunesmith's run wrote.

Usage: flock /tmp/tunesmith-cpu.lock python bench/summarization_recipe.py [--tunesmith-run RUN] [--max-examples 100]
(--tunesmith-run takes an existing run of examples/samsum.yaml made with compare_base instead of training again;
--data FILE replaces ../shared/data/samsum/samsum_val.csv beside the checkout.)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _shared import REPO, require, shared_path
from estimates import print_estimates

CONFIG = REPO / "examples" / "samsum.yaml"
DATA = ("data", "samsum", "samsum_val.csv")  # under shared/
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
SHOWN = ("rouge_1", "rouge_2", "rouge_l", "rouge_lsum", "length_ratio")


def run_tunesmith(out: Path, max_examples: int, data: Path) -> dict:
    from tunesmith.config import config_from_dict
    from tunesmith.pipeline import train_run

    raw = yaml.safe_load(CONFIG.read_text())
    raw["data"]["train"] = str(data)
    raw["output"] = {**raw.get("output", {}), "runs_dir": str(out)}
    raw["evaluation"] = {**raw.get("evaluation", {}), "max_examples": max_examples, "compare_base": True}
    started = time.perf_counter()
    run = train_run(config_from_dict(raw, str(CONFIG)))
    return {"run": str(run.path), "wall_seconds": time.perf_counter() - started, **tunesmith_scores(run.path)}


def tunesmith_scores(run_path: Path) -> dict:
    record = json.loads((run_path / "run.json").read_text())
    metrics = json.loads((run_path / "metrics.json").read_text())
    return {
        "train_seconds": record["training"]["train_seconds"],
        "scores": {label: metrics[label]["overall"] for label in ("base", "tuned") if label in metrics},
        "decoding_search": record.get("decoding_search"),
    }


def run_recipe(tunesmith_run: Path, out: Path, max_examples: int) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from tunesmith.data import load_examples
    from tunesmith.models import resolve_model
    from tunesmith.models.load import load_tokenizer, load_trained_model
    from tunesmith.pipeline import saved_config
    from tunesmith.plan import Plan, generation_settings
    from tunesmith.runs import RunFolder
    from tunesmith.tasks import get_task

    started = time.perf_counter()
    folder = resolve_model(yaml.safe_load(CONFIG.read_text())["model"]["name"])
    train = load_examples(tunesmith_run / "data" / "train.jsonl", "messages")
    test = load_examples(tunesmith_run / "data" / "test.jsonl", "messages")[:max_examples]
    dataset = Dataset.from_list([{"prompt": [ex.messages[0]], "completion": [ex.messages[1]]} for ex in train])
    args = SFTConfig(
        output_dir=str(out / "trainer"),
        num_train_epochs=1,
        learning_rate=2e-4,
        bf16=True,
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=42,
        disable_tqdm=True,
    )
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=TARGETS, task_type="CAUSAL_LM")
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=load_tokenizer(folder), peft_config=lora
    )
    train_started = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - train_started
    trainer.model.save_pretrained(out / "adapter")

    plan = Plan.from_dict(json.loads((tunesmith_run / "plan.json").read_text()))
    bundle = load_trained_model(folder, out / "adapter", None)
    greedy = Plan.from_dict(plan.to_dict())
    for name in ("num_beams", "no_repeat_ngram_size"):
        greedy.choices.pop(name, None)
    config = saved_config(RunFolder(tunesmith_run))  # scored as the tunesmith run was: the same code and batch
    config.evaluation.batch_size, config.evaluation.max_examples = 16, None
    scores = {}
    for label, decoding in (("recipe greedy", greedy), ("recipe, tunesmith decoding", plan)):
        result = get_task("summarization").evaluate(bundle, test, decoding, config, compare_base=False)
        scores[label] = result.overall("tuned")
    return {
        "train_seconds": train_seconds,
        "wall_seconds": time.perf_counter() - started,
        "steps": trainer.state.global_step,
        "decoding": generation_settings(plan),
        "scores": scores,
    }


def run_decodings(tunesmith_run: Path) -> dict:
    """tunesmith's own adapter decoded three ways on its test split: plain greedy, greedy with the trigram guard
    (over the summary's tokens only), and the plan's decoding; the plan's must not fall below plain greedy."""
    from tunesmith.pipeline import saved_config
    from tunesmith.plan import Plan, generation_settings
    from tunesmith.runs import RunFolder
    from tunesmith.tasks import get_task

    run = RunFolder(tunesmith_run)
    config = saved_config(run)
    config.evaluation.batch_size = 16
    task = get_task("summarization")
    plan = Plan.from_dict(run.read_json("plan.json"))
    bundle = task.load_trained(run.path, config, Path(run.read_json("run.json")["parent"]["path"]))
    test = task.read_split(run.data_dir / "test.jsonl")
    variants = {}
    for label, keep in (("greedy", ()), ("greedy + trigram guard", ("no_repeat_ngram_size",)), ("plan", None)):
        decoding = Plan.from_dict(plan.to_dict())
        if keep is not None:
            for name in ("num_beams", "no_repeat_ngram_size"):
                if name not in keep:
                    decoding.choices.pop(name, None)
        started = time.perf_counter()
        scores = task.evaluate(bundle, test, decoding, config, compare_base=False).overall("tuned")
        variants[label] = {**scores, "seconds": round(time.perf_counter() - started, 1)}
        variants[label]["decoding"] = generation_settings(decoding)
    return {"decodings": variants}


def run_variant(name: str, args) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        if name == "tunesmith":
            result = run_tunesmith(args.out or Path(scratch), args.max_examples, args.data)
        elif name == "decodings":
            result = run_decodings(Path(args.tunesmith_run))
        else:
            result = run_recipe(Path(args.tunesmith_run), Path(scratch), args.max_examples)
    result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return result


def in_subprocess(name: str, extra: list[str]) -> dict:
    command = [sys.executable, __file__, "--variant", name, *sys.argv[1:], *extra]
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        print(completed.stdout[-3000:], file=sys.stderr)
        raise SystemExit(f"variant {name} failed")
    return json.loads(lines[-1][len("RESULT ") :])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=100, help="held-out dialogues to score")
    parser.add_argument("--tunesmith-run", help="an existing run of examples/samsum.yaml (with compare_base)")
    parser.add_argument("--out", type=Path, help="keep tunesmith's run folder under this directory")
    parser.add_argument("--data", type=Path, default=None, help="the SAMSum CSV (default: shared/data/samsum)")
    parser.add_argument("--skip-recipe", action="store_true", help="tunesmith's run and its decodings only")
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # internal: run one variant, print its JSON
    args = parser.parse_args()
    if not args.tunesmith_run:
        args.data = require(args.data or shared_path(*DATA), "--data FILE").resolve()
    if args.variant:
        print("RESULT " + json.dumps(run_variant(args.variant, args)))
        return

    if args.tunesmith_run:
        ours = {"run": args.tunesmith_run, "wall_seconds": None, "peak_rss_gib": None}
        ours |= tunesmith_scores(Path(args.tunesmith_run))
    else:
        keep = args.out or Path(tempfile.mkdtemp(prefix="samsum-bench-"))
        ours = in_subprocess("tunesmith", ["--out", str(keep)])
    print(f"tunesmith: {json.dumps(ours)}", flush=True)
    print_estimates([Path(ours["run"])])
    search = ours.get("decoding_search")
    if search:
        print(f"\nthe plan's decoding, chosen after training on {search['examples']} validation dialogues:")
        for row in search["candidates"]:
            chosen = " (chosen)" if row["label"] == search["chosen"] else ""
            print(f"  {row['label'] + chosen:35}{search['metric']} {row['score']:.4f}{row['seconds']:8.0f} s")
    decodings = in_subprocess("decodings", ["--tunesmith-run", ours["run"]])["decodings"]
    print(f"\n{'tunesmith adapter decoded':30}" + "".join(f"{name:>13}" for name in (*SHOWN, "seconds")))
    for label, scores in decodings.items():
        print(f"{label:30}" + "".join(f"{scores.get(name, float('nan')):13.4f}" for name in (*SHOWN, "seconds")))
    print(f"the plan's decoding: {decodings['plan']['decoding']}", flush=True)
    if args.skip_recipe:
        return
    recipe = in_subprocess("recipe", ["--tunesmith-run", ours["run"]])
    print(f"recipe: {json.dumps(recipe)}", flush=True)
    report(ours, recipe)


def report(ours: dict, recipe: dict) -> None:
    rows = {"base": ours["scores"]["base"]} if "base" in ours["scores"] else {}
    rows |= {"tunesmith default": ours["scores"]["tuned"], **recipe["scores"]}
    print(f"\n{'model':30}" + "".join(f"{name:>13}" for name in SHOWN))
    for label, scores in rows.items():
        print(f"{label:30}" + "".join(f"{scores.get(name, float('nan')):13.4f}" for name in SHOWN))
    print(f"\nrecipe decoding as tunesmith's plan: {recipe['decoding']}")
    print(f"{'':30}{'train min':>13}{'wall min':>13}{'peak GiB':>13}")
    for label, result in (("tunesmith default", ours), ("recipe", recipe)):
        wall = f"{result['wall_seconds'] / 60:13.1f}" if result["wall_seconds"] else f"{'-':>13}"
        peak = f"{result['peak_rss_gib']:13.2f}" if result["peak_rss_gib"] else f"{'-':>13}"
        print(f"{label:30}{result['train_seconds'] / 60:13.1f}{wall}{peak}")
    ratios = ", ".join(
        f"{name} {ours['scores']['tuned'][name] / recipe['scores']['recipe greedy'][name]:.3f}x"
        for name in ("rouge_1", "rouge_2", "rouge_l")
    )
    print(
        f"tunesmith vs recipe (greedy): {ratios}, training time {ours['train_seconds'] / recipe['train_seconds']:.2f}x"
    )


if __name__ == "__main__":
    main()
