"""Data shapes of embedding runs: triplets, scored pairs, labelled pairs, labelled texts and raw texts.

Files are CSV/TSV (optionally gzipped, with a header row), JSONL or JSON; the STS Benchmark's header-less
tab-separated files (genre, file, year, id, score, sentence1, sentence2) have their own shape, ``stsb``.
Every error names the file, the line (or record index) and the field.
"""

from __future__ import annotations

import csv
import math
import random
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.data.load import parse_json
from tunesmith.errors import DataError
from tunesmith.textfiles import DEFAULT_ENCODING, open_text

SHAPES = ("triplets", "scored_pairs", "labelled_pairs", "classes", "texts")
# role -> column names it is found under, first match wins (compared case-insensitively)
USUAL_COLUMNS = {
    "anchor": ("anchor", "query"),
    "positive": ("positive", "pos"),
    "negative": ("negative", "neg"),
    "text1": ("sentence1", "text1", "s1"),
    "text2": ("sentence2", "text2", "s2"),
    "score": ("score", "similarity"),
    "label": ("label", "category", "topic"),
    "text": ("text", "sentence", "document"),
}
SHAPE_ROLES = {
    "triplets": ("anchor", "positive"),
    "scored_pairs": ("text1", "text2", "score"),
    "labelled_pairs": ("text1", "text2", "label"),
    "classes": ("text", "label"),
    "texts": ("text",),
}
STSB_FIELDS = (4, 5, 6)  # score, sentence1, sentence2; a few rows carry extra trailing columns


@dataclass(frozen=True)
class Pair:
    """Two texts and how similar they are: a score normalised to 0..1, or a label 0/1."""

    text1: str
    text2: str
    score: float


@dataclass(frozen=True)
class Triplet:
    anchor: str
    positive: str
    negative: str | None = None


@dataclass(frozen=True)
class LabelledText:
    """A text with a class label (texts of one label are similar); label None for raw texts."""

    text: str
    label: str | None = None


Record = Pair | Triplet | LabelledText


@dataclass
class PairSet:
    """Records of one shape (see SHAPES), in file order."""

    shape: str
    records: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def texts(self) -> list[str]:
        """Every text once, in first-seen order."""
        seen: dict[str, None] = {}
        for record in self.records:
            for text in record_texts(record):
                seen.setdefault(text)
        return list(seen)


def load_pairs(
    path: str | Path,
    shape: str = "auto",
    columns: dict[str, str] | None = None,
    score_max: float | None = None,
    *,
    encoding: str = DEFAULT_ENCODING,
) -> PairSet:
    """Load one file as a PairSet.

    Args:
        path: ``.csv``/``.tsv`` (header row; ``.gz`` allowed), ``.jsonl`` or ``.json`` (a list of objects).
        shape: one of SHAPES, ``stsb``, or ``auto`` (detected from the column names of the first record).
        columns: role -> column name, for roles not under their usual names (USUAL_COLUMNS).
        score_max: scores are divided by it; None: 5 when any score exceeds 1, else 1.
        encoding: the file's text encoding (``data.encoding``); a UTF-8 byte-order mark is skipped either way.

    Raises:
        DataError: naming the file, line and field of a bad record, or a file with no records; bytes the
            encoding cannot decode, by line and byte offset.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    if shape == "stsb":
        rows = _stsb_rows(path, encoding)
        shape, roles = "scored_pairs", {"score": "score", "text1": "sentence1", "text2": "sentence2"}
    else:
        rows = _rows(path, encoding)
        first = next(rows, None)
        if first is None:
            raise DataError(f"{path}: no records found")
        header = list(first[1])
        shape = detect_pair_shape(header, columns or {}, path) if shape == "auto" else shape
        roles = _find_roles(header, shape, columns or {}, path)
        rows = _chain(first, rows)
    records = [_to_record(row, shape, roles, source) for source, row in rows]
    if not records:
        raise DataError(f"{path}: no records found")
    if shape == "scored_pairs":
        records = normalise_scores(records, score_max, path)
    return PairSet(shape, records)


def detect_pair_shape(header: list[str], columns: dict[str, str], path: Path | str = "") -> str:
    """The first shape in SHAPES whose roles all have a column (triplets before pairs before texts)."""
    for shape in SHAPES:
        if all(_column_for(role, header, columns) for role in SHAPE_ROLES[shape]):
            return shape
    raise DataError(
        f"{path}: cannot tell the record shape from the columns {header}; name the columns "
        f"(embedding.columns) or set embedding.data_format to one of {', '.join(SHAPES)}"
    )


def normalise_scores(records: list[Pair], score_max: float | None, path: Path | str = "") -> list[Pair]:
    """Scale scores into 0..1: by ``score_max``, or by 5 when any score exceeds 1 (the STS 0..5 scale)."""
    top = max(pair.score for pair in records)
    scale = score_max or (5.0 if top > 1 else 1.0)
    if top > scale or min(pair.score for pair in records) < 0:
        raise DataError(f"{path}: scores must lie in 0..{scale:g}, found up to {top:g}")
    return [Pair(pair.text1, pair.text2, pair.score / scale) for pair in records]


def split_pairs(data: PairSet, test_fraction: float, seed: int) -> tuple[PairSet, PairSet]:
    """Carve a test set out of ``data`` (classes: the same share of every label)."""
    rng = random.Random(seed)
    groups: dict[str | None, list] = defaultdict(list)
    for record in data.records:
        groups[record.label if data.shape == "classes" else None].append(record)
    train, test = [], []
    for key in sorted(groups, key=str):
        members = groups[key][:]
        rng.shuffle(members)
        cut = round(len(members) * test_fraction)
        test += members[:cut]
        train += members[cut:]
    return PairSet(data.shape, train), PairSet(data.shape, test)


def sample_pairs(data: PairSet, limit: int | None, seed: int) -> PairSet:
    """A seeded random sample of at most ``limit`` records (all of them, in order, when there are fewer)."""
    if limit is None or len(data) <= limit:
        return data
    chosen = sorted(random.Random(seed).sample(range(len(data)), limit))
    return PairSet(data.shape, [data.records[i] for i in chosen])


def record_texts(record: Record) -> tuple[str, ...]:
    if isinstance(record, Pair):
        return (record.text1, record.text2)
    if isinstance(record, Triplet):
        return tuple(text for text in (record.anchor, record.positive, record.negative) if text is not None)
    return (record.text,)


def _column_for(role: str, header: list[str], columns: dict[str, str]) -> str | None:
    if role in columns:
        return columns[role] if columns[role] in header else None
    lowered = {name.lower(): name for name in header}
    return next((lowered[name] for name in USUAL_COLUMNS[role] if name in lowered), None)


def _find_roles(header: list[str], shape: str, columns: dict[str, str], path: Path) -> dict[str, str]:
    if shape not in SHAPE_ROLES:
        raise DataError(f"{path}: unknown data_format '{shape}'")
    roles = {}
    for role in (*SHAPE_ROLES[shape], *(("negative",) if shape == "triplets" else ())):
        column = _column_for(role, header, columns)
        if column is None and role in SHAPE_ROLES[shape]:
            wanted = columns.get(role) or " or ".join(USUAL_COLUMNS[role])
            raise DataError(f"{path}: {shape} records need a '{wanted}' column ({role}); columns are {header}")
        if column is not None:
            roles[role] = column
    return roles


def _to_record(row: dict, shape: str, roles: dict[str, str], source: str) -> Record:
    def text(role: str, required: bool = True) -> str | None:
        value = row.get(roles[role]) if role in roles else None
        if value is None or not str(value).strip():
            if required:
                raise DataError(f"{source}: field '{roles.get(role, role)}' is empty")
            return None
        return str(value).strip()

    def number(role: str) -> float:
        value = row.get(roles[role])
        try:
            result = float(value)
        except (TypeError, ValueError, OverflowError):
            result = math.nan
        if not math.isfinite(result):
            raise DataError(f"{source}: field '{roles[role]}' is not a number (got {value!r})")
        return result

    if shape == "triplets":
        return Triplet(text("anchor"), text("positive"), text("negative", required=False))
    if shape == "scored_pairs":
        return Pair(text("text1"), text("text2"), number("score"))
    if shape == "labelled_pairs":
        label = number("label")
        if label not in (0.0, 1.0):
            raise DataError(f"{source}: field '{roles['label']}' must be 0 or 1 (got {row.get(roles['label'])!r})")
        return Pair(text("text1"), text("text2"), label)
    if shape == "classes":
        return LabelledText(text("text"), text("label"))
    return LabelledText(text("text"))


def _rows(path: Path, encoding: str) -> Iterator[tuple[str, dict]]:
    """(source, record) per record; source is ``file:line`` (CSV/TSV/JSONL) or ``file[index]`` (JSON)."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    kind = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else suffixes[-1] if suffixes else ""
    if kind in (".csv", ".tsv"):
        yield from _delimited_rows(path, "\t" if kind == ".tsv" else ",", encoding)
    elif kind == ".jsonl":
        with open_text(path, encoding) as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield f"{path}:{number}", _json_object(line, f"{path}:{number}")
    elif kind == ".json":
        with open_text(path, encoding) as handle:
            text = handle.read()
        records = parse_json(text, str(path), line=True)
        if not isinstance(records, list):
            raise DataError(f"{path}: a JSON data file must hold a list of records")
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise DataError(f"{path}[{index}]: a record must be an object")
            yield f"{path}[{index}]", record
    else:
        raise DataError(f"{path}: unsupported file type, expected .csv, .tsv, .jsonl or .json (optionally .gz)")


def _delimited_rows(path: Path, delimiter: str, encoding: str) -> Iterator[tuple[str, dict]]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long documents (tickets) exceed the 128 KiB default
    with open_text(path, encoding, newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        try:
            for row in reader:
                if None in row:
                    raise DataError(f"{path}:{reader.line_num}: more values than header columns")
                yield f"{path}:{reader.line_num}", row
        except csv.Error as err:
            raise DataError(f"{path}:{reader.line_num}: not valid CSV ({err})") from None


def _stsb_rows(path: Path, encoding: str) -> Iterator[tuple[str, dict]]:
    with open_text(path, encoding, newline="") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.rstrip("\r\n").split("\t")
            if not line.strip():
                continue
            if len(fields) <= max(STSB_FIELDS):
                raise DataError(
                    f"{path}:{number}: an STS Benchmark row needs 7 tab-separated fields, got {len(fields)}"
                )
            yield f"{path}:{number}", dict(zip(("score", "sentence1", "sentence2"), (fields[i] for i in STSB_FIELDS)))


def _json_object(line: str, source: str) -> dict:
    record = parse_json(line, source)
    if not isinstance(record, dict):
        raise DataError(f"{source}: a record must be an object")
    return record


def _chain(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def pairs_from_classes(texts: list[LabelledText], pairs_per_text: int, seed: int) -> list[Pair]:
    """For every text, ``pairs_per_text`` pairs: half with a text of its label (score 1), half with another (0).

    Labels with a single text get no positive; a data set with a single label gets no negative.
    """
    rng = random.Random(seed)
    by_label: dict[str, list[str]] = {}
    for item in texts:
        by_label.setdefault(item.label, []).append(item.text)
    labels = sorted(by_label)
    pairs = []
    for item in texts:
        same = by_label[item.label]
        others = [label for label in labels if label != item.label]
        for index in range(pairs_per_text):
            if index % 2 == 0 and len(same) > 1:
                partner = item.text
                while partner == item.text and len(set(same)) > 1:
                    partner = rng.choice(same)
                if partner != item.text:
                    pairs.append(Pair(item.text, partner, 1.0))
            elif index % 2 == 1 and others:
                pairs.append(Pair(item.text, rng.choice(by_label[rng.choice(others)]), 0.0))
    return pairs
