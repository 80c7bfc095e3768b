"""Do a run's GGUF exports generate what the merged transformers model generates? Greedy tokens side by side.

Exports RUN to a merged folder and to GGUF f16 and q8_0 (in a temp folder) twice: through llama.cpp's own
converter (tunesmith's export) and, as the baseline, through the home-made Llama-only writer tunesmith had before
(read from git history at BASELINE_COMMIT, so it is the code that shipped). Then for the first N test questions of
the run (chat template + the run's system prompt) compares the first K greedy tokens of the merged model with those
of each GGUF read back by transformers' GGUF loader and, where llama-cpp-python is installed, by llama.cpp.

    python bench/gguf_agreement.py RUN [--questions 10 --tokens 16]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]  # tests/: the greedy helpers the GGUF tests use
BASELINE_COMMIT = "7394088"  # the last commit whose src/tunesmith/export/gguf.py wrote GGUF itself


def baseline_writer():
    """write_gguf(model, tokenizer, tokenizer_dir, path, weights, name) of the home-made writer at BASELINE_COMMIT."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{BASELINE_COMMIT}:src/tunesmith/export/gguf.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("baseline_gguf")
    exec(compile(source, f"{BASELINE_COMMIT}:gguf.py", "exec"), module.__dict__)
    return module.write_gguf


def prompts(run: Path, count: int, tokenizer, system_prompt: str | None) -> list[list[int]]:
    from tunesmith.models.chat import prompt_text

    lines = (run / "data" / "test.jsonl").read_text().splitlines()[:count]
    texts = [prompt_text(tokenizer, json.loads(line)["messages"][:-1], system_prompt) for line in lines]
    return [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]


def agreement(expected: list[list[int]], got: list[list[int]]) -> tuple[int, float]:
    """(prompts whose K tokens all match, mean length of the matching prefix)."""
    prefixes = []
    for want, have in zip(expected, got):
        same = 0
        while same < min(len(want), len(have)) and want[same] == have[same]:
            same += 1
        prefixes.append(same)
    return sum(prefix == len(want) for prefix, want in zip(prefixes, expected)), sum(prefixes) / len(prefixes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--tokens", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    from tests.export.greedy import llama_cpp_greedy, transformers_greedy

    from tunesmith.export import export_run, open_finished_run

    run = open_finished_run(args.run)
    with tempfile.TemporaryDirectory() as workdir:
        out = Path(workdir)
        started = time.perf_counter()
        merged_dir = export_run(args.run, "merged", out / "merged")
        timings = {"merged": time.perf_counter() - started}
        files = {}
        for weights in ("f16", "q8_0"):
            started = time.perf_counter()
            path = out / f"model-{weights}.gguf"
            files[f"llama.cpp converter {weights}"] = export_run(args.run, "gguf", path, weights)
            timings[f"converter {weights}"] = time.perf_counter() - started
        merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
        write_baseline = baseline_writer()
        for weights in ("f16", "q8_0"):
            started = time.perf_counter()
            path = out / f"baseline-{weights}.gguf"
            files[f"home-made writer {weights}"] = write_baseline(
                merged, AutoTokenizer.from_pretrained(merged_dir), merged_dir, path, weights, run.name
            )
            timings[f"home-made {weights}"] = time.perf_counter() - started
        tokenizer = AutoTokenizer.from_pretrained(merged_dir)
        asked = prompts(args.run, args.questions, tokenizer, run.system_prompt)
        expected = [transformers_greedy(merged, ids, args.tokens) for ids in asked]
        print(f"\n{args.run}: {len(asked)} test questions, first {args.tokens} greedy tokens vs the merged model")
        walls = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
        print(f"export wall times: {walls}")
        print(f"{'file, reader':52} {'file MB':>8} {'all K tokens equal':>19} {'mean equal prefix':>18}")
        has_llama_cpp = importlib.util.find_spec("llama_cpp") is not None
        for name, path in files.items():
            size = path.stat().st_size / 2**20
            model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name).eval()
            got = [transformers_greedy(model, ids, args.tokens) for ids in asked]
            full, prefix = agreement(expected, got)
            label = f"{name}, transformers' reader"
            print(f"{label:52} {size:>8.1f} {f'{full}/{len(asked)}':>19} {prefix:>18.1f}")
            if has_llama_cpp:
                from llama_cpp import Llama

                llm = Llama(model_path=str(path), n_ctx=2048, n_threads=2, verbose=False, seed=0)
                same_ids = all(
                    llm.tokenize(tokenizer.decode(ids).encode(), add_bos=False, special=True) == ids for ids in asked
                )
                got = [llama_cpp_greedy(llm, ids, args.tokens) for ids in asked]
                full, prefix = agreement(expected, got)
                label = f"{name}, llama.cpp"
                row = f"{label:52} {size:>8.1f} {f'{full}/{len(asked)}':>19} {prefix:>18.1f}"
                print(f"{row}  same prompt ids: {same_ids}")
                print(f"  first answer: {llm.detokenize(got[0]).decode(errors='replace')!r}")
        print(f"  merged model's first answer: {tokenizer.decode(expected[0])!r}")
        if not has_llama_cpp:
            print("llama-cpp-python is not installed: llama.cpp rows skipped")


if __name__ == "__main__":
    main()
