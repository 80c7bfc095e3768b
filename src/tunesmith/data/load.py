"""Read JSON, JSONL and CSV files into Examples; every error names the file, the line or index, and the field."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.data.shapes import Example, FieldMap, detect_shape, to_example
from tunesmith.data.split import linked_groups, rephrased_valid, split_examples
from tunesmith.errors import DataError
from tunesmith.textfiles import DEFAULT_ENCODING, open_text

SUFFIXES = (".json", ".jsonl", ".csv")


@dataclass(frozen=True)
class Splits:
    train: list[Example]
    valid: list[Example]
    test: list[Example]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def load_examples(
    path: str | Path,
    shape: str = "auto",
    fields: FieldMap | None = None,
    problems: list[str] | None = None,
    *,
    encoding: str = DEFAULT_ENCODING,
) -> list[Example]:
    """Load every record of one file as an Example.

    Args:
        path: a ``.json`` (list of objects), ``.jsonl`` (one object a line) or ``.csv`` (header row) file.
        shape: ``auto`` to detect from the first record, or one of ``qa``, ``alpaca``, ``messages``.
        fields: where the prompt, answer, category and difficulty live when not under their usual names.
        problems: when given, a bad record's error is appended here and the record skipped, instead of raised.
        encoding: the file's text encoding (``data.encoding``); a UTF-8 byte-order mark is skipped either way.

    Raises:
        DataError: naming the file, the line (JSONL, CSV) or record index (JSON), and the field; bytes the encoding
            cannot decode, by line and byte offset.
    """
    path = Path(path)
    fields = fields or FieldMap()
    if path.suffix.lower() not in SUFFIXES:
        raise DataError(f"{path}: unsupported file type '{path.suffix}', expected one of {', '.join(SUFFIXES)}")
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    examples = []
    for source, record in _records(path, encoding):
        if shape == "auto":
            try:
                shape = detect_shape(record, fields) if isinstance(record, dict) else "qa"
            except DataError as err:
                raise DataError(f"{source}: {err}") from None
        try:
            examples.append(to_example(record, shape, fields, source))
        except DataError as err:
            if problems is None:
                raise
            problems.append(str(err))
    if not examples:
        raise DataError(f"{path}: no records found")
    return examples


def example_record(example: Example) -> dict:
    """An Example as a chat-shaped record (what ``load_examples(path, "messages")`` reads back)."""
    record: dict = {"messages": list(example.messages), "source": example.source}
    for field in ("category", "difficulty", "augmented_from"):
        if getattr(example, field) is not None:
            record[field] = getattr(example, field)
    return record


def write_examples(path: Path, examples: Sequence[Example]) -> None:
    """Examples as JSONL records (see :func:`example_record`), written atomically."""
    from tunesmith.atomic import write_text

    write_text(path, "".join(json.dumps(example_record(e), ensure_ascii=False) + "\n" for e in examples))


def load_splits(data_config: Any) -> Splits:
    """Load train/valid/test from a config's ``data`` section, carving missing splits out of train."""
    fields = FieldMap(
        prompt=data_config.prompt_field,
        answer=data_config.answer_field,
        category=data_config.category_field,
        difficulty=data_config.difficulty_field,
        instruction=data_config.instruction,
    )
    shape = data_config.format
    encoding = getattr(data_config, "encoding", DEFAULT_ENCODING)

    def read(path: Path | None) -> list[Example] | None:
        return None if path is None else load_examples(path, shape, fields, encoding=encoding)

    return carve_splits(read(data_config.train), read(data_config.valid), read(data_config.test), data_config)


def carve_splits(
    train: list[Example], valid: list[Example] | None, test: list[Example] | None, data_config: Any
) -> Splits:
    """Carve the missing valid/test splits out of train, stratified, near-duplicate questions kept together."""
    fractions = {
        "valid": data_config.valid_fraction if valid is None else 0.0,
        "test": data_config.test_fraction if test is None else 0.0,
    }
    if any(fractions.values()):
        groups = linked_groups(train)
        parts = split_examples(train, fractions, seed=data_config.split_seed, groups=groups)
        if valid is None and parts.get("valid"):
            size = Counter(groups)
            movable = {id(example) for example, group in zip(train, groups) if size[group] == 1}
            parts["train"], parts["valid"] = rephrased_valid(
                parts["train"], parts["valid"], movable, data_config.split_seed
            )
        train = parts["train"]
        valid = valid if valid is not None else parts.get("valid")
        test = test if test is not None else parts.get("test")
    return Splits(train=train, valid=valid or [], test=test or [])


def parse_json(text: str, source: str, *, line: bool = False) -> Any:
    """``json.loads``; a failure (numbers of over 4300 digits and nesting too deep too) is a DataError naming
    ``source``, and with ``line`` the line of ``text`` where it is."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        where = f"{source}:{err.lineno}" if line else source
        raise DataError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
    except (ValueError, RecursionError) as err:
        raise DataError(f"{source}: not valid JSON ({err})") from None


def _records(path: Path, encoding: str) -> Iterator[tuple[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from _jsonl_records(path, encoding)
    elif suffix == ".json":
        yield from _json_records(path, encoding)
    else:
        yield from _csv_records(path, encoding)


def _jsonl_records(path: Path, encoding: str) -> Iterator[tuple[str, Any]]:
    with open_text(path, encoding) as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield f"{path}:{number}", parse_json(line, f"{path}:{number}")


def _json_records(path: Path, encoding: str) -> Iterator[tuple[str, Any]]:
    with open_text(path, encoding) as handle:
        text = handle.read()
    data = parse_json(text, str(path), line=True)
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise DataError(f'{path}: expected a list of records (or {{"data": [...]}}), got {type(data).__name__}')
    for index, record in enumerate(data):
        yield f"{path}: record {index}", record


def _csv_records(path: Path, encoding: str) -> Iterator[tuple[str, Any]]:
    with open_text(path, encoding, newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            if not reader.fieldnames:
                raise DataError(f"{path}: the CSV file has no header row")
            start = reader.line_num + 1
            for row in reader:
                if None in row:
                    raise DataError(f"{path}:{start}: more values than header columns")
                yield f"{path}:{start}", {key: value for key, value in row.items() if value is not None}
                start = reader.line_num + 1
        except csv.Error as err:
            raise DataError(f"{path}:{reader.line_num}: not valid CSV ({err})") from None
