"""tunesmith from Python, as in a notebook: plan, train, score, load the model and ask it a question.

    python examples/python_api.py                    # the PressCrafters demo's config (examples/presscrafters.yaml)
    python examples/python_api.py --model DIR --epochs 1 --runs-dir /tmp/runs   # another model, shorter

The tests run this file on a tiny model (tests/test_python_api.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tunesmith import api as ts

CONFIG = Path(__file__).resolve().parent / "presscrafters.yaml"


def main(argv: list[str] | None = None) -> ts.Run:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a model folder or hub id instead of the config's")
    parser.add_argument("--epochs", type=float, help="epochs instead of the plan's")
    parser.add_argument("--runs-dir", default="runs")
    args = parser.parse_args(argv)

    overrides: dict = {"output": {"runs_dir": args.runs_dir}}
    if args.model:
        overrides["model"] = {"name": args.model}
    if args.epochs:
        overrides["training"] = {"epochs": args.epochs, "time_budget_minutes": None}
    config = ts.config(CONFIG, **overrides)

    plan = ts.plan(config)
    for name in ("method", "epochs", "learning_rate", "select_by"):
        print(f"{name:>14} = {plan[name]!s:<10} {plan.choices[name].reason}")
    print(f"estimated training: {plan.estimate.train_minutes:.1f} min")

    run = ts.train(config)
    print(f"{run.name}: token F1 {run.scores('base')['token_f1']:.3f} -> {run.scores('tuned')['token_f1']:.3f}")

    model, tokenizer = ts.load(run)
    question = [{"role": "user", "content": "When are you open on Saturdays?"}]
    prompt = tokenizer.apply_chat_template(question, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    output = model.generate(**inputs, max_new_tokens=32, do_sample=False)
    print("answer:", tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True))
    print("report:", ts.report(run))
    return run


if __name__ == "__main__":
    main()
