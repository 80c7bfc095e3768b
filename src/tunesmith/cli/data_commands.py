"""What ``tunesmith analyze``, ``split`` and ``augment`` do: read data files (or a run config), call the pure
functions of :mod:`tunesmith.data`, print, and write results atomically."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from tunesmith.data.duplicates import NEAR_DUPLICATE_SIMILARITY
from tunesmith.data.load import carve_splits, load_examples, load_splits, write_examples
from tunesmith.data.shapes import Example, FieldMap
from tunesmith.errors import DataError

CONFIG_SUFFIXES = (".yaml", ".yml")
SPLIT_NAMES = {"train": "train", "valid": "valid", "val": "valid", "dev": "valid", "test": "test"}

console = Console()


def read_inputs(paths: Sequence[Path], shape: str, fields: FieldMap, problems: list[str]) -> dict[str, list[Example]]:
    """Data files by split name (from the file name: train/valid/dev/test, else the file's stem)."""
    named: dict[str, list[Example]] = {}
    for path in paths:
        name = _split_name(Path(path))
        if name in named:
            raise DataError(f"{path}: two inputs would both be the '{name}' split")
        named[name] = load_examples(path, shape, fields, problems)
    return named


def analyze_command(paths: Sequence[Path], model: str | None, shape: str, fields: FieldMap, out: Path | None) -> Path:
    """Analyse data files or a run config's data, print the summary and the recommended plan, write results."""
    from tunesmith.atomic import write_json
    from tunesmith.cli.data_show import plot_labels, plot_lengths, print_analysis
    from tunesmith.continual import model_dir_for
    from tunesmith.pipeline import plan_splits
    from tunesmith.plan.recommend import recommend

    problems: list[str] = []
    config, named = _config_and_splits(paths, model, shape, fields, problems)
    train = named.get("train") or next(iter(named.values()))
    splits = carve_splits(train, named.get("valid"), named.get("test"), config.data)
    plan, tokenizer = plan_splits(config, splits, model_dir_for(config))
    context = plan.model["max_positions"]
    analysis = analyze_splits(named, tokenizer, config.model.system_prompt, context_length=context)
    analysis["invalid"] = problems
    print_analysis(analysis, console)
    train_split = "train" if "train" in analysis["counts"] else next(iter(analysis["counts"]))
    hardware = plan.hardware
    advice = recommend(analysis, plan.data["n_train"], hardware["device"], train_split, hardware.get("memory_gb"))
    _print_recommendation(advice, plan)
    out = Path(out or f"{Path(paths[0]).stem}-analysis")
    record = {key: value for key, value in analysis.items() if key != "token_lengths"}
    record["recommendation"] = [advice_item.__dict__ for advice_item in advice]
    record["plan"] = plan.to_dict()
    write_json(out / "analysis.json", record)
    plot_lengths(analysis, out / "token_lengths.png")
    for field in ("categories", "difficulties"):
        plot_labels(analysis[field], field, out / f"{field}.png")
    console.print(f"analysis written to [bold]{out}[/bold] (analysis.json and PNG histograms)")
    return out


def analyze_splits(
    splits: dict[str, Sequence[Example]],
    tokenizer,
    system_prompt: str | None = None,
    threshold: float = NEAR_DUPLICATE_SIMILARITY,
    context_length: int | None = None,
) -> dict:
    """Everything ``tunesmith analyze`` reports, as plain data (written to analysis.json)."""
    from tunesmith.data.analyze import answer_problems, duplicates, label_counts, leakage
    from tunesmith.models.chat import token_lengths

    splits = {name: list(examples) for name, examples in splits.items() if examples}
    lengths = {name: token_lengths(examples, tokenizer, system_prompt) for name, examples in splits.items()}
    return {
        "counts": {name: len(examples) for name, examples in splits.items()},
        "augmented": {name: sum(e.augmented_from is not None for e in examples) for name, examples in splits.items()},
        "lengths": {name: {part: _stats(values) for part, values in parts.items()} for name, parts in lengths.items()},
        "categories": {name: label_counts(examples, "category") for name, examples in splits.items()},
        "difficulties": {name: label_counts(examples, "difficulty") for name, examples in splits.items()},
        "duplicates": {name: duplicates(examples, threshold) for name, examples in splits.items()},
        "answers": {
            name: answer_problems(examples, lengths[name]["sequence"], context_length)
            for name, examples in splits.items()
        },
        "leakage": leakage(splits, threshold),
        "token_lengths": lengths,  # raw values, for the histograms
    }


def _stats(values: list[int]) -> dict:
    from tunesmith.plan.profile import LengthStats

    return asdict(LengthStats.of(values))


def split_command(
    path: Path, fractions: Sequence[float], seed: int, shape: str, fields: FieldMap, out: Path | None
) -> Path:
    """Write stratified train/valid/test JSONL files, near-duplicate questions kept in one split."""
    from tunesmith.data.split import linked_groups, split_examples

    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise DataError(f"split fractions must be three non-negative shares summing to 1, got {list(fractions)}")
    examples = load_examples(path, shape, fields)
    parts = split_examples(
        examples, {"valid": fractions[1], "test": fractions[2]}, seed=seed, groups=linked_groups(examples)
    )
    out = Path(out or Path(path).with_name(f"{Path(path).stem}-split"))
    for name, members in parts.items():
        write_examples(out / f"{name}.jsonl", members)
    sizes = ", ".join(f"{name} {len(members)}" for name, members in parts.items())
    console.print(f"{sizes} written to [bold]{out}[/bold]")
    return out


def augment_command(
    path: Path,
    copies: int,
    operations: Sequence[str],
    synonyms_path: Path | None,
    seed: int,
    shape: str,
    fields: FieldMap,
    out: Path | None,
) -> Path:
    from tunesmith.data.augment import augment_examples, load_synonyms

    synonyms = load_synonyms(synonyms_path) if synonyms_path else {}
    if "synonym" in operations and not synonyms:
        operations = [op for op in operations if op != "synonym"]
        console.print("[yellow]no --synonyms word list given: synonym replacement skipped[/yellow]")
    if not operations:
        raise DataError("no augmentation left to apply: pass --ops, or a --synonyms word list")
    examples = augment_examples(load_examples(path, shape, fields), copies, operations, synonyms, seed=seed)
    out = Path(out or Path(path).with_name(f"{Path(path).stem}-augmented.jsonl"))
    write_examples(out, examples)
    made = sum(example.augmented_from is not None for example in examples)
    console.print(f"{made} augmented copies of {len(examples) - made} examples written to [bold]{out}[/bold]")
    return out


def rewrite_command(path: Path, options: dict, shape: str, fields: FieldMap, out: Path | None, seed: int) -> Path:
    """``augment --rewrite K``: the examples followed by K filtered rewrites of every fact; the counts of kept and
    dropped rewrites printed and written beside the output (<out>.rewrites.json)."""
    from tunesmith.atomic import write_json
    from tunesmith.config import section_from_dict
    from tunesmith.config.schema import RewriteConfig
    from tunesmith.models.embedding import resolve_embedding_model
    from tunesmith.rewrite import add_rewrites, describe, make_generator
    from tunesmith.tasks.embedding import load_sentence_model

    settings = section_from_dict(RewriteConfig, options, "augment --rewrite")
    generator = make_generator(settings.generator, settings.model, settings.base_url, settings.api_key_env, seed)
    examples = load_examples(path, shape, fields)
    encoder = load_sentence_model(resolve_embedding_model(settings.encoder))
    examples, stats = add_rewrites(examples, settings.k, generator, encoder, settings.min_similarity)
    out = Path(out or Path(path).with_name(f"{Path(path).stem}-augmented.jsonl"))
    write_examples(out, examples)
    write_json(out.with_suffix(".rewrites.json"), stats)
    console.print(f"{describe(stats)}; written to [bold]{out}[/bold] (counts in {out.with_suffix('.rewrites.json')})")
    return out


def _split_name(path: Path) -> str:
    stem = path.stem.lower()
    return next((name for key, name in SPLIT_NAMES.items() if key in stem.split("_") + stem.split("-")), path.stem)


def _config_and_splits(paths, model, shape, fields, problems):
    """A run config for the plan, and the named splits to analyse (as given, or as a config's data carves them)."""
    from tunesmith.config import config_from_dict, load_config

    if len(paths) == 1 and Path(paths[0]).suffix.lower() in CONFIG_SUFFIXES:
        config = load_config(paths[0])
        if model:
            config.model.name = model
        splits = load_splits(config.data)
        return config, {name: examples for name, examples in splits.__dict__.items() if examples}
    named = read_inputs(paths, shape, fields, problems)
    raw = {"data": {"train": str(paths[0])}} | ({"model": {"name": model}} if model else {})  # default splits
    return config_from_dict(raw, source="analyze"), named


def _print_recommendation(advice, plan) -> None:
    from rich.table import Table

    from tunesmith.plan.show import print_plan

    table = Table(title="Recommendation", title_justify="left")
    for column in ("what", "advice", "why"):
        table.add_column(column)
    for item in advice:
        table.add_row(item.topic, item.advice, item.reason)
    console.print(table)
    print_plan(plan, console)
