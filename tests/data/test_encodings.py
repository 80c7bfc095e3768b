"""Data files as Windows editors and Excel write them (BOM, CRLF), other encodings (data.encoding) and bad bytes."""

import codecs
import gzip
import json
from types import SimpleNamespace

import pytest

from tunesmith.config import config_from_dict
from tunesmith.data.augment import load_synonyms
from tunesmith.data.load import load_examples, load_splits
from tunesmith.data.pairs import Pair, Triplet, load_pairs
from tunesmith.errors import ConfigError, DataError

BOM = codecs.BOM_UTF8
QA = [{"question": f"Where is office {i}?", "answer": f"Café {i}, Zürich"} for i in range(3)]
PAIRS = [("a café opens", "a new café", 4.0), ("dogs bark", "cats sleep", 0.5), ("it rains", "rain falls", 5.0)]


def jsonl(records, newline="\n") -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + newline for record in records)


def csv_text(header, rows, newline="\n") -> str:
    return newline.join([",".join(header), *(",".join(str(value) for value in row) for row in rows)]) + newline


def write(path, data: bytes):
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def questions(examples) -> list[str]:
    return [example.question for example in examples]


# -- Q&A / summary loaders ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", [b"", BOM])
def test_qa_jsonl_with_bom_and_crlf(tmp_path, bom, newline):
    path = write(tmp_path / "train.jsonl", bom + jsonl(QA, newline).encode())
    examples = load_examples(path)
    assert questions(examples) == [r["question"] for r in QA]
    assert [e.answer for e in examples] == [r["answer"] for r in QA]
    assert [e.source for e in examples] == [f"{path}:{n}" for n in (1, 2, 3)]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", [b"", BOM])
def test_qa_csv_with_bom_and_crlf(tmp_path, bom, newline):
    rows = [(r["question"], r["answer"].replace(",", "")) for r in QA]
    path = write(tmp_path / "train.csv", bom + csv_text(["question", "answer"], rows, newline).encode())
    examples = load_examples(path)  # with the BOM left in, the first column would be '\ufeffquestion'
    assert questions(examples) == [row[0] for row in rows]
    assert [e.answer for e in examples] == [row[1] for row in rows]  # no '\r' left at the end of a line
    assert [e.source for e in examples] == [f"{path}:{n}" for n in (2, 3, 4)]


def test_qa_json_with_bom_and_crlf(tmp_path):
    path = write(
        tmp_path / "train.json", BOM + json.dumps(QA, indent=2, ensure_ascii=False).replace("\n", "\r\n").encode()
    )
    assert questions(load_examples(path)) == [r["question"] for r in QA]


def test_invalid_utf8_names_the_line_and_the_byte_offset(tmp_path):
    good = jsonl(QA[:2]).encode()
    path = write(tmp_path / "train.jsonl", BOM + good + b'{"question": "caf\xe9?", "answer": "yes"}\n')
    offset = len(BOM) + len(good) + len(b'{"question": "caf')
    with pytest.raises(DataError) as caught:
        load_examples(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: byte offset {offset} (0xe9) is not valid utf-8")
    assert "data.encoding" in message


def test_invalid_utf8_in_a_crlf_csv_names_its_line(tmp_path):
    content = b"question,answer\r\nhi,there\r\nbad \x92 quote,answer\r\n"
    path = write(tmp_path / "train.csv", content)
    with pytest.raises(DataError, match=rf"{path}:3: byte offset {content.index(0x92)} \(0x92\)"):
        load_examples(path)


def test_invalid_utf8_deep_in_a_large_file_is_found(tmp_path):
    """Past the reader's first buffer: the offset counts from the file's start, not from a chunk's."""
    records = [{"question": f"question {i}?", "answer": "x" * 100} for i in range(2000)]
    good = jsonl(records).encode()
    path = write(tmp_path / "train.jsonl", good + b'{"question": "\xff", "answer": "y"}\n')
    with pytest.raises(DataError, match=rf"{path}:2001: byte offset {len(good) + 14} \(0xff\)"):
        load_examples(path)


def test_configured_latin1_reads_a_latin1_csv(tmp_path):
    content = "question,answer\nWhere?,Café Zürich\n".encode("latin-1")
    path = write(tmp_path / "train.csv", content)
    with pytest.raises(DataError, match=rf":2: byte offset {content.index(0xE9)} \(0xe9\)"):  # undecodable in UTF-8
        load_examples(path)
    assert load_examples(path, encoding="latin-1")[0].answer == "Café Zürich"
    config = config_from_dict(
        {"data": {"train": str(path), "encoding": "latin-1", "valid_fraction": 0.0, "test_fraction": 0.0}}
    )
    assert load_splits(config.data).train[0].answer == "Café Zürich"


def test_configured_utf16_file_is_read(tmp_path):
    path = write(tmp_path / "train.jsonl", jsonl(QA, "\r\n").encode("utf-16"))
    assert questions(load_examples(path, encoding="utf-16")) == [r["question"] for r in QA]


def test_a_bom_is_skipped_however_utf8_is_spelled(tmp_path):
    path = write(tmp_path / "train.jsonl", BOM + jsonl(QA).encode())
    for spelling in ("UTF8", "utf_8", "utf-8-sig"):
        assert len(load_examples(path, encoding=spelling)) == 3


def test_load_splits_without_an_encoding_setting_reads_utf8(tmp_path):
    """Callers passing their own data section (no ``encoding``) keep working."""
    path = write(tmp_path / "train.jsonl", BOM + jsonl(QA).encode())
    section = SimpleNamespace(
        train=path, valid=None, test=None, format="auto", instruction=None, prompt_field=None, answer_field=None,
        category_field="category", difficulty_field="difficulty", valid_fraction=0.0, test_fraction=0.0, split_seed=1,
    )  # fmt: skip
    assert len(load_splits(section).train) == 3


@pytest.mark.parametrize(
    "content, message",
    [
        (b"[" * 100_000, "not valid JSON"),  # nesting too deep for the parser
        (b'[{"question": "q", "answer": ' + b"1" * 5000 + b"}]", "not valid JSON"),  # int over 4300 digits
    ],
)
def test_hostile_json_is_a_data_error(tmp_path, content, message):
    with pytest.raises(DataError, match=message):
        load_examples(write(tmp_path / "train.json", content))


def test_unknown_encoding_passed_directly_is_a_data_error(tmp_path):
    path = write(tmp_path / "train.jsonl", jsonl(QA).encode())
    with pytest.raises(DataError, match="unknown text encoding 'klingon'"):
        load_examples(path, encoding="klingon")


# -- embedding pair loaders --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pairs.csv", "pairs.csv.gz", "pairs.tsv", "pairs.tsv.gz"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_pair_csv_tsv_with_bom_and_crlf(tmp_path, name, newline):
    separator = "\t" if ".tsv" in name else ","
    lines = [separator.join(["sentence1", "sentence2", "score"])]
    lines += [separator.join([a, b, str(score)]) for a, b, score in PAIRS]
    path = write(tmp_path / name, BOM + newline.join(lines).encode() + newline.encode())
    data = load_pairs(path)
    assert data.shape == "scored_pairs"
    assert data.records == [Pair(a, b, score / 5) for a, b, score in PAIRS]


@pytest.mark.parametrize("name", ["pairs.jsonl", "pairs.jsonl.gz", "pairs.json", "pairs.json.gz"])
def test_pair_json_and_jsonl_with_bom_and_crlf(tmp_path, name):
    records = [{"anchor": a, "positive": b} for a, b, _ in PAIRS]
    text = jsonl(records, "\r\n") if ".jsonl" in name else json.dumps(records, indent=1).replace("\n", "\r\n")
    data = load_pairs(write(tmp_path / name, BOM + text.encode()))
    assert data.records == [Triplet(a, b) for a, b, _ in PAIRS]


def test_stsb_file_with_bom_and_crlf(tmp_path):
    rows = [f"g\tf\t2012\t{i:04d}\t{score}\t{a}\t{b}" for i, (a, b, score) in enumerate(PAIRS)]
    path = write(tmp_path / "sts-train.tsv", BOM + "\r\n".join(rows).encode() + b"\r\n")
    assert load_pairs(path, "stsb").records == [Pair(a, b, score / 5) for a, b, score in PAIRS]


@pytest.mark.parametrize("name", ["pairs.csv", "pairs.csv.gz"])
def test_pair_invalid_utf8_names_line_and_offset(tmp_path, name):
    content = BOM + b"text1,text2,label\r\na,b,1\r\nc \xc3( d,e,0\r\n"
    path = write(tmp_path / name, content)
    offset = content.index(b"\xc3")
    where = " of the uncompressed data" if name.endswith(".gz") else ""
    with pytest.raises(DataError, match=rf"{path}:3: byte offset {offset}{where} \(0xc3\)"):
        load_pairs(path)


def test_pair_latin1_file_with_the_encoding(tmp_path):
    path = write(tmp_path / "classes.csv", "text,label\nCrème brûlée,dessert\nSoupe,entrée\n".encode("cp1252"))
    with pytest.raises(DataError, match=r"classes.csv:2: byte offset 13 \(0xe8\)"):
        load_pairs(path)
    data = load_pairs(path, encoding="cp1252")
    assert [(r.text, r.label) for r in data.records] == [("Crème brûlée", "dessert"), ("Soupe", "entrée")]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("p.csv.gz", b"not gzip at all", "cannot read the file"),
        ("p.csv.gz", gzip.compress(b"text,label\na,b\n")[:-12], "cannot read the file"),  # truncated
        ("p.json", b'[{"anchor": "a", "positive": ', "not valid JSON"),
        ("p.csv", b"text1,text2,score\na,b,1,extra\n", r"p.csv:2: more values than header columns"),
        ("p.csv", b"text1,text2,score\na,b,nan\n", "field 'score' is not a number"),
        ("p.csv", b"text1,text2,score\na,b,1e999\n", "field 'score' is not a number"),
    ],
)
def test_hostile_pair_files_are_data_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_pairs(path)


# -- word lists and the config setting ---------------------------------------------------------------------------


def test_synonym_lists_accept_bom_crlf_and_report_bad_bytes(tmp_path):
    path = write(tmp_path / "words.txt", BOM + b"big: large, huge\r\nfast: quick\r\n")
    assert load_synonyms(path) == {"big": ["large", "huge"], "fast": ["quick"]}
    path = write(tmp_path / "words.json", BOM + b'{"big": ["large"]}')
    assert load_synonyms(path) == {"big": ["large"]}
    with pytest.raises(DataError, match="not valid JSON"):
        load_synonyms(write(tmp_path / "broken.json", b'{"big": '))
    with pytest.raises(DataError, match=r"bad.txt:2: byte offset 12"):
        load_synonyms(write(tmp_path / "bad.txt", b"big: large\nn\xe4h: near\n"))


def test_data_encoding_setting(tmp_path):
    assert config_from_dict({"data": {"train": "t.csv"}}).data.encoding == "utf-8"
    assert config_from_dict({"data": {"train": "t.csv", "encoding": "cp1252"}}).data.encoding == "cp1252"
    assert config_from_dict({"task": "embedding", "data": {"train": "t.csv", "encoding": "latin-1"}}).data.encoding
    for wrong in ("klingon", "base64", "rot13", ""):
        with pytest.raises(ConfigError, match=rf"data.encoding: unknown text encoding '{wrong}'"):
            config_from_dict({"data": {"train": "t.csv", "encoding": wrong}})
