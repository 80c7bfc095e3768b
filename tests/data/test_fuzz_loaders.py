"""Property tests: whatever bytes or records a data file holds, loading it gives examples or a DataError naming it.

Never another exception (UnicodeDecodeError, csv.Error, RecursionError, gzip errors, KeyError, ...): hostile or
broken files end in one clear message, never a traceback.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tunesmith.data.augment import load_synonyms
from tunesmith.data.load import load_examples
from tunesmith.data.pairs import load_pairs
from tunesmith.data.shapes import FieldMap
from tunesmith.errors import DataError

FAST = settings(max_examples=200, deadline=None)
QA_SUFFIXES = (".jsonl", ".json", ".csv")
PAIR_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".jsonl.gz", ".json.gz", ".csv.gz", ".tsv.gz")
# The field names the loaders look for, so generated records often get past shape detection into the checks.
NAMES = (
    *("question", "answer", "instruction", "input", "output", "response", "messages", "role", "content"),
    *("summary", "dialogue", "text", "document", "category", "difficulty", "augmented_from", "system", "user"),
    *("assistant", "anchor", "positive", "negative", "sentence1", "sentence2", "score", "label", "query", "s1"),
)
KEYS = st.sampled_from(NAMES) | st.text(max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included: json writes and reads them
    | st.sampled_from(NAMES)
    | st.text(max_size=20)
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5))
# Records of each shape the loaders know, with text (mostly) or anything (sometimes) in their fields.
WORDS = st.text(min_size=1, max_size=20)
FIELD = WORDS | WORDS | WORDS | VALUES
MESSAGES = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant"]) | VALUES, "content": FIELD}),
    max_size=4,
)
SHAPED = [
    st.fixed_dictionaries({name: FIELD for name in names}, optional={"category": FIELD, "difficulty": FIELD})
    for names in (
        ("question", "answer"),
        ("instruction", "output"),
        ("instruction", "input", "response"),
        ("dialogue", "summary"),
        ("anchor", "positive", "negative"),
        ("text1", "text2", "label"),
        ("text", "label"),
    )
] + [
    st.fixed_dictionaries({"messages": MESSAGES | VALUES}),
    st.fixed_dictionaries({"sentence1": FIELD, "sentence2": FIELD, "score": st.floats(-1, 6) | FIELD}),
]
RECORDS = st.one_of(
    [st.lists(shaped, min_size=1, max_size=6) for shaped in SHAPED]
    + [st.lists(st.one_of(SHAPED) | st.dictionaries(KEYS, VALUES, max_size=6) | VALUES, max_size=6)]
)


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def write(folder: Path, suffix: str, data: bytes) -> Path:
    path = folder / f"data{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    return path


def encoded(records: list, suffix: str, bom: bool, crlf: bool) -> bytes:
    """``records`` as a file of ``suffix`` (CSV: the first record's keys as the header, values as JSON text)."""
    if ".jsonl" in suffix:
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    elif ".json" in suffix:
        text = json.dumps(records, ensure_ascii=False, indent=1)
    else:
        dicts = [record for record in records if isinstance(record, dict)]
        header = list(dicts[0]) if dicts else ["text"]
        out = io.StringIO()
        writer = csv.writer(out, delimiter="\t" if ".tsv" in suffix else ",", lineterminator="\n")
        writer.writerow(header)
        for record in dicts:
            writer.writerow([v if isinstance(v, str) else json.dumps(v) for v in record.values()])
        text = out.getvalue()
    if crlf:
        text = text.replace("\n", "\r\n")
    return (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8", "surrogatepass")


def check(load, path: Path):
    """``load(path)``'s result, or None for a DataError that names the file; any other exception fails."""
    try:
        result = load(path)
    except DataError as err:
        assert str(path) in str(err)
        event("DataError")
        return None
    event("loaded")
    return result


SHAPES = st.just("auto") | st.sampled_from(["auto", "qa", "alpaca", "messages", "summary"])
FIELDS = st.just(FieldMap()) | st.builds(
    FieldMap,
    prompt=st.none() | st.sampled_from(["question", "text", "input.text", "a.b"]),
    answer=st.none() | st.sampled_from(["answer", "summary", "output.text"]),
)


@FAST
@given(data=st.binary(max_size=400), suffix=st.sampled_from(QA_SUFFIXES), shape=SHAPES)
def test_qa_loader_on_arbitrary_bytes(folder, data, suffix, shape):
    check(lambda path: load_examples(path, shape), write(folder, suffix, data))


@FAST
@given(
    records=RECORDS,
    suffix=st.sampled_from(QA_SUFFIXES),
    shape=SHAPES,
    fields=FIELDS,
    bom=st.booleans(),
    crlf=st.booleans(),
)
def test_qa_loader_on_arbitrary_records(folder, records, suffix, shape, fields, bom, crlf):
    examples = check(
        lambda path: load_examples(path, shape, fields), write(folder, suffix, encoded(records, suffix, bom, crlf))
    )
    for example in examples or []:
        assert example.messages[-1]["role"] == "assistant" and example.answer.strip()


@FAST
@given(
    data=st.binary(max_size=400),
    suffix=st.sampled_from(PAIR_SUFFIXES),
    shape=st.sampled_from(["auto", "stsb", "triplets", "scored_pairs", "labelled_pairs", "classes", "texts"]),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16", "shift_jis"]),
)
def test_pair_loader_on_arbitrary_bytes(folder, data, suffix, shape, encoding):
    check(lambda path: load_pairs(path, shape, encoding=encoding), write(folder, suffix, data))


@FAST
@given(data=st.binary(max_size=200), suffix=st.sampled_from(PAIR_SUFFIXES))
def test_pair_loader_on_files_that_are_not_gzip(folder, data, suffix):
    path = folder / f"raw{suffix}"
    path.write_bytes(data)  # a .gz name over bytes that may be no (or truncated) gzip data
    check(load_pairs, path)


@FAST
@given(
    records=RECORDS,
    suffix=st.sampled_from(PAIR_SUFFIXES),
    columns=st.dictionaries(st.sampled_from(["anchor", "positive", "text1", "text2", "score", "label", "text"]), KEYS),
    score_max=st.none() | st.floats(min_value=0.001, max_value=100),
    bom=st.booleans(),
    crlf=st.booleans(),
)
def test_pair_loader_on_arbitrary_records(folder, records, suffix, columns, score_max, bom, crlf):
    path = write(folder, suffix, encoded(records, suffix, bom, crlf))
    data = check(lambda path: load_pairs(path, "auto", columns, score_max), path)
    if data is not None and data.shape == "scored_pairs":
        assert all(0 <= pair.score <= 1 for pair in data.records)


@FAST
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".txt", ".json"]))
def test_synonym_lists_on_arbitrary_bytes(folder, data, suffix):
    check(load_synonyms, write(folder, suffix, data))
