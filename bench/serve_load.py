"""Load test of ``tunesmith serve`` on loopback: N chat requests from C concurrent openai clients, all answered.

Serves a fine-tuned tiny run (trained here in seconds, or --run RUN) twice, side by side: a serial queue
(max_batch=1, the baseline) and the micro-batching worker (max_batch=8); prints p50/p95 latency, requests per
second and the ratio. Then sends the bad-input cases and prints the status each one got. Then a flood: --flood
requests at once against a server whose queue holds --flood-queue: each is answered (200) or refused with 503 and
Retry-After; the count of any other outcome (lost) is printed, with the process's peak memory.

    flock /tmp/tunesmith-cpu.lock python bench/serve_load.py [--requests 200 --clients 16 --max-tokens 24]
        [--flood 500 --flood-queue 64]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]
API_KEY = "bench-key"


def questions(count: int) -> list[str]:
    from tests.conftest import SAMPLES

    asked = [json.loads(line)["question"] for line in (SAMPLES / "test.jsonl").read_text().splitlines()]
    return [asked[i % len(asked)] for i in range(count)]


def tiny_run(workdir: Path) -> Path:
    from tests.conftest import build_tiny_llama, train_tiny_run

    return train_tiny_run(workdir, build_tiny_llama(workdir / "tiny_llama"))


def load(url: str, model: str, prompts: list[str], clients: int, max_tokens: int) -> dict:
    from openai import OpenAI

    api = OpenAI(base_url=f"{url}/v1", api_key=API_KEY, max_retries=0, timeout=600)

    def ask(question: str) -> tuple[float, int]:
        start = time.perf_counter()
        reply = api.chat.completions.create(
            model=model, messages=[{"role": "user", "content": question}], max_tokens=max_tokens
        )
        return time.perf_counter() - start, reply.usage.completion_tokens

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        outcomes = list(pool.map(ask, prompts))
    wall = time.perf_counter() - started
    latencies = sorted(latency for latency, _ in outcomes)
    return {
        "answered": len(outcomes),
        "wall_s": wall,
        "req_per_s": len(outcomes) / wall,
        "p50_s": statistics.median(latencies),
        "p95_s": latencies[int(0.95 * (len(latencies) - 1))],
        "tokens_per_s": sum(tokens for _, tokens in outcomes) / wall,
    }


def flood(url: str, model: str, prompts: list[str], max_tokens: int) -> dict:
    """Every prompt sent at once (one client each, up to 256 in flight): answered, refused (503 + Retry-After) or
    anything else (lost)."""
    import httpx

    def ask(question: str) -> str:
        body = {"model": model, "messages": [{"role": "user", "content": question}], "max_tokens": max_tokens}
        try:
            reply = httpx.post(
                f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=600
            )
        except httpx.HTTPError as err:
            return f"lost ({type(err).__name__})"
        if reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] is not None:
            return "answered"
        if reply.status_code == 503 and int(reply.headers.get("Retry-After", "0")) >= 1:
            return "refused 503 + Retry-After"
        return f"lost ({reply.status_code})"

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=min(256, len(prompts))) as pool:
        outcomes = list(pool.map(ask, prompts))
    counts = {outcome: outcomes.count(outcome) for outcome in sorted(set(outcomes))}
    return {"wall_s": time.perf_counter() - started, "counts": counts}


def bad_inputs(url: str, model: str) -> list[tuple[str, int, str]]:
    ok = [{"role": "user", "content": "When do you open?"}]
    cases = [
        ("no API key", "/v1/chat/completions", {"model": model, "messages": ok}, None),
        ("wrong API key", "/v1/chat/completions", {"model": model, "messages": ok}, "nope"),
        (
            "prompt longer than the context",
            "/v1/chat/completions",
            {"model": model, "messages": [{"role": "user", "content": "word " * 400}]},
            API_KEY,
        ),  # noqa: E501
        (
            "max_tokens past the context",
            "/v1/chat/completions",
            {"model": model, "messages": ok, "max_tokens": 10**6},
            API_KEY,
        ),  # noqa: E501
        ("temperature 7", "/v1/chat/completions", {"model": model, "messages": ok, "temperature": 7}, API_KEY),
        ("n = 4", "/v1/chat/completions", {"model": model, "messages": ok, "n": 4}, API_KEY),
        ("no messages", "/v1/chat/completions", {"model": model, "messages": []}, API_KEY),
        (
            "unknown role",
            "/v1/chat/completions",
            {"model": model, "messages": [{"role": "x", "content": "hi"}]},
            API_KEY,
        ),  # noqa: E501
        ("unknown model", "/v1/chat/completions", {"model": "gpt-4o", "messages": ok}, API_KEY),
        ("unknown parameter", "/v1/completions", {"model": model, "prompt": "hi", "frobnicate": 1}, API_KEY),
        ("prompt is a number", "/v1/completions", {"model": model, "prompt": 42}, API_KEY),
        ("embeddings from a chat model", "/v1/embeddings", {"model": model, "input": "hi"}, API_KEY),
        ("body is not JSON", "/v1/chat/completions", "{not json", API_KEY),
    ]
    answers = []
    for name, path, body, key in cases:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
        request = urllib.request.Request(url + path, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answers.append((name, response.status, ""))
        except urllib.error.HTTPError as err:
            answers.append((name, err.code, json.loads(err.read())["error"]["message"][:90]))
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="A finished run to serve (default: train a tiny one here).")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--flood", type=int, default=500, help="requests sent at once in the flood (0: none)")
    parser.add_argument("--flood-queue", type=int, default=64, help="the flooded server's queue (--max-queue)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging

    logging.set_verbosity_error()
    from tunesmith.serve import create_app, load_served
    from tunesmith.serve.server import background_server

    with tempfile.TemporaryDirectory() as workdir:
        run = args.run or tiny_run(Path(workdir))
        served = load_served(run)
        prompts = questions(args.requests)
        print(f"\nserving {run} ({sum(p.numel() for p in served.model.parameters()):,} parameters)")
        print(f"{args.requests} chat requests, {args.clients} concurrent clients, max_tokens {args.max_tokens}\n")
        rows = {}
        for label, max_batch in (("serial queue (max_batch=1)", 1), ("micro-batched (max_batch=8)", 8)):
            app = create_app(served, api_key=API_KEY, max_batch=max_batch)
            with background_server(app) as url:
                load(url, served.name, prompts[:8], 4, args.max_tokens)  # warm-up
                before = app.state.engine.batches_run
                rows[label] = load(url, served.name, prompts, args.clients, args.max_tokens)
                rows[label]["generate_calls"] = app.state.engine.batches_run - before
                if max_batch > 1:
                    rejected = bad_inputs(url, served.name)
        columns = ("answered", "wall s", "req/s", "p50 s", "p95 s", "tok/s")
        print(f"{'':30} " + " ".join(f"{name:>8}" for name in columns) + f" {'generate() calls':>16}")
        for label, row in rows.items():
            print(
                f"{label:30} {row['answered']:>8} {row['wall_s']:>8.1f} {row['req_per_s']:>8.1f} {row['p50_s']:>8.2f} "
                f"{row['p95_s']:>8.2f} {row['tokens_per_s']:>8.0f} {row['generate_calls']:>16}"
            )
        base, batched = rows.values()
        print(
            f"\nmicro-batching vs serial: {batched['req_per_s'] / base['req_per_s']:.2f}x requests/s, "
            f"p50 {batched['p50_s'] / base['p50_s']:.2f}x, p95 {batched['p95_s'] / base['p95_s']:.2f}x\n"
        )
        print("bad input:")
        for name, status, message in rejected:
            print(f"  {status}  {name:32} {message}")
        if args.flood:
            app = create_app(served, api_key=API_KEY, max_batch=8, max_queue=args.flood_queue)
            with background_server(app) as url:
                result = flood(url, served.name, questions(args.flood), args.max_tokens)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            lost = sum(count for outcome, count in result["counts"].items() if outcome.startswith("lost"))
            print(f"\nflood: {args.flood} requests at once, queue {args.flood_queue}, {result['wall_s']:.1f} s")
            for outcome, count in result["counts"].items():
                print(f"  {count:>5}  {outcome}")
            print(f"  lost: {lost}; peak memory of the process (server and clients) {peak:.2f} GiB")


if __name__ == "__main__":
    main()
