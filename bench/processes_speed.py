"""One process against several, the same run: SmolLM2-135M-Instruct LoRA on the MSU CS Q&A, same global batch.

Each variant is a real ``tunesmith train`` (the second through ``--processes N``, accelerate launch underneath)
with the same config and a fixed number of optimiser steps; scoring is cut to a few test questions. Prints
training seconds, seconds per step and the ratio, and the final validation loss of each (they should agree).

Usage: flock /tmp/tunesmith-cpu.lock python bench/processes_speed.py [--steps 12] [--processes 2] [--data FILE]
(--data defaults to ../shared/data/msu/msu_cs_106.json beside the checkout.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from _shared import require, shared_path

DATA = ("data", "msu", "msu_cs_106.json")  # under shared/


def config(folder: Path, steps: int, batch_size: int, grad_accum: int, data: Path) -> Path:
    settings = {
        "name": "msu-processes",
        "model": {"name": "HuggingFaceTB/SmolLM2-135M-Instruct"},
        "data": {"train": str(data), "category_field": "metadata.content_type", "test_fraction": 0.1},
        "training": {"max_steps": steps, "batch_size": batch_size, "grad_accum": grad_accum},
        "evaluation": {"max_examples": 4, "compare_base": False},
        "output": {"runs_dir": str(folder / "runs"), "save_checkpoints": False},
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def run(processes: int, steps: int, global_batch: int, batch_size: int, data: Path) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        grad_accum = global_batch // (batch_size * processes)
        run_config = config(folder, steps, batch_size, grad_accum, data)
        command = [sys.executable, "-m", "tunesmith.cli", "train", str(run_config)]
        if processes > 1:
            command += ["--processes", str(processes)]
        completed = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        if completed.returncode != 0:
            output = completed.stdout[-2000:] + "\n" + completed.stderr[-3000:]
            raise SystemExit(f"{processes} process(es) failed:\n{output}")
        [record_file] = (folder / "runs").glob("*/run.json")
        training = json.loads(record_file.read_text())["training"]
        log = record_file.parent / "logs" / "train_log.jsonl"
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        eval_losses = [line["eval_loss"] for line in lines if "eval_loss" in line]
    return {
        "processes": processes,
        "micro_batch": batch_size,
        "grad_accum": grad_accum,
        "steps": training["steps"],
        "train_seconds": training["train_seconds"],
        "final_train_loss": training["final_loss"],
        "final_eval_loss": eval_losses[-1] if eval_losses else None,
        "peak_memory_gb_main_process": training["peak_memory_gb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--global-batch", type=int, default=8)
    parser.add_argument("--micro-batch", type=int, default=4, help="per process")
    parser.add_argument("--data", type=Path, default=None, help="the MSU CS Q&A JSON (default: shared/data/msu)")
    args = parser.parse_args()
    data = require(args.data or shared_path(*DATA), "--data FILE").resolve()
    results = [run(n, args.steps, args.global_batch, args.micro_batch, data) for n in (1, args.processes)]
    for result in results:
        print(json.dumps(result))
    one, many = results
    print(
        f"\n{args.steps} steps, global batch {args.global_batch}: 1 process {one['train_seconds']:.1f} s "
        f"({one['train_seconds'] / one['steps']:.2f} s/step), {many['processes']} processes "
        f"{many['train_seconds']:.1f} s ({many['train_seconds'] / many['steps']:.2f} s/step): "
        f"{one['train_seconds'] / many['train_seconds']:.2f}x the speed of one process; "
        f"final training loss {one['final_train_loss']:.3f} vs {many['final_train_loss']:.3f}"
    )


if __name__ == "__main__":
    main()
