"""Embedding data shapes: loading each shape, detection, STS files, score normalisation, splits, samples."""

import gzip
import json
import random

import pytest

from tunesmith.data.pairs import (
    LabelledText,
    Pair,
    PairSet,
    Triplet,
    detect_pair_shape,
    load_pairs,
    sample_pairs,
    split_pairs,
)
from tunesmith.errors import DataError

WORDS = "cat dog bird man woman child plays runs eats sings red blue green big small old car house tree ball".split()


def scored_pair_rows(n: int, seed: int = 0) -> list[tuple[float, str, str]]:
    """(score 0..5, s1, s2): s2 keeps a random share of s1's words, and the score is that share."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        first = rng.sample(WORDS, 6)
        kept = rng.randint(0, 6)
        second = first[:kept] + rng.sample([w for w in WORDS if w not in first], 6 - kept)
        rows.append((round(5 * kept / 6, 2), "a " + " ".join(first), "a " + " ".join(second)))
    return rows


def write_stsb(path, rows) -> None:
    lines = [
        f"main-captions\tMSRvid\t2012test\t{i:04d}\t{score}\t{s1}\t{s2}" for i, (score, s1, s2) in enumerate(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_stsb_rows_take_fields_5_to_7_and_scale_scores_to_0_1(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_text("g\tf\t2012\t1\t5.000\tA man.\tA man!\textra\tcolumns\ng\tf\t2012\t2\t1.0\tA cat.\tA dog.\n")
    data = load_pairs(path, "stsb")
    assert data.shape == "scored_pairs"
    assert data.records == [Pair("A man.", "A man!", 1.0), Pair("A cat.", "A dog.", 0.2)]


def test_a_short_stsb_row_is_named_by_line(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_text("g\tf\t2012\t1\t5.0\tA man.\tA man!\ng\tf\t2012\t2\t1.0\tonly one\n")
    with pytest.raises(DataError, match=r"sts.csv:2: .*7 tab-separated fields, got 6"):
        load_pairs(path, "stsb")


@pytest.mark.parametrize(
    ("header", "shape"),
    [
        (["anchor", "positive", "negative"], "triplets"),
        (["query", "pos"], "triplets"),
        (["sentence1", "sentence2", "score"], "scored_pairs"),
        (["text1", "text2", "label"], "labelled_pairs"),
        (["Document", "Topic"], "classes"),
        (["text"], "texts"),
    ],
)
def test_shape_is_detected_from_the_column_names(header, shape):
    assert detect_pair_shape(header, {}) == shape


def test_named_columns_win_and_unknown_columns_are_a_clear_error():
    assert detect_pair_shape(["Document", "Topic_group"], {"label": "Topic_group"}) == "classes"
    with pytest.raises(DataError, match="cannot tell the record shape"):
        detect_pair_shape(["foo", "bar"], {})


def test_each_file_kind_loads_each_shape(tmp_path):
    (tmp_path / "t.jsonl").write_text(
        json.dumps({"anchor": "q", "positive": "p", "negative": "n"})
        + "\n"
        + json.dumps({"anchor": "q2", "positive": "p2"})
        + "\n"
    )
    assert load_pairs(tmp_path / "t.jsonl").records == [Triplet("q", "p", "n"), Triplet("q2", "p2", None)]
    (tmp_path / "l.json").write_text(
        json.dumps([{"text1": "a", "text2": "b", "label": 1}, {"text1": "a", "text2": "c", "label": "0"}])
    )
    assert load_pairs(tmp_path / "l.json").records == [Pair("a", "b", 1.0), Pair("a", "c", 0.0)]
    with gzip.open(tmp_path / "c.csv.gz", "wt", newline="") as handle:
        handle.write('Document,Topic_group\n"printer, jammed\nagain",Hardware\nvpn down,Access\n')
    data = load_pairs(tmp_path / "c.csv.gz", columns={"label": "Topic_group"})
    assert data.shape == "classes"
    assert data.records == [LabelledText("printer, jammed\nagain", "Hardware"), LabelledText("vpn down", "Access")]
    (tmp_path / "s.tsv").write_text("sentence1\tsentence2\tscore\nx\ty\t0.25\n")
    assert load_pairs(tmp_path / "s.tsv").records == [Pair("x", "y", 0.25)]
    (tmp_path / "raw.csv").write_text("text\nhello\nworld\n")
    assert load_pairs(tmp_path / "raw.csv").texts() == ["hello", "world"]


def test_bad_records_are_named_by_file_line_and_field(tmp_path):
    (tmp_path / "l.csv").write_text("text1,text2,label\na,b,1\na,c,2\n")
    with pytest.raises(DataError, match=r"l.csv:3: field 'label' must be 0 or 1"):
        load_pairs(tmp_path / "l.csv")
    (tmp_path / "e.csv").write_text("sentence1,sentence2,score\na,,1\n")
    with pytest.raises(DataError, match=r"e.csv:2: field 'sentence2' is empty"):
        load_pairs(tmp_path / "e.csv")
    (tmp_path / "n.csv").write_text("sentence1,sentence2,score\na,b,high\n")
    with pytest.raises(DataError, match=r"n.csv:2: field 'score' is not a number"):
        load_pairs(tmp_path / "n.csv")


def test_scores_are_normalised_by_the_given_maximum_or_by_5_beyond_1(tmp_path):
    (tmp_path / "s.csv").write_text("sentence1,sentence2,score\na,b,0.5\nc,d,1\n")
    assert [p.score for p in load_pairs(tmp_path / "s.csv").records] == [0.5, 1.0]
    assert [p.score for p in load_pairs(tmp_path / "s.csv", score_max=2).records] == [0.25, 0.5]
    (tmp_path / "b.csv").write_text("sentence1,sentence2,score\na,b,4\nc,d,6\n")
    with pytest.raises(DataError, match="scores must lie in 0..5"):
        load_pairs(tmp_path / "b.csv")


def test_class_split_keeps_each_labels_share_and_sample_is_seeded():
    records = [LabelledText(f"t{i}", "a" if i < 80 else "b") for i in range(100)]
    train, test = split_pairs(PairSet("classes", records), 0.25, seed=3)
    assert len(test) == 25 and sum(r.label == "b" for r in test.records) == 5
    assert not {r.text for r in train.records} & {r.text for r in test.records}
    first, again = sample_pairs(train, 10, seed=1), sample_pairs(train, 10, seed=1)
    assert first.records == again.records and len(first) == 10
    assert sample_pairs(train, 1000, seed=1) is train


def test_the_shared_stsb_and_it_tickets_load_through_the_example_configs():
    from pathlib import Path

    from tunesmith.config import load_config
    from tunesmith.tasks import get_task

    load = get_task("embedding").load_data

    examples = Path(__file__).resolve().parents[2] / "examples"
    stsb = load_config(examples / "stsb.yaml")
    if not stsb.data.train.is_file():
        pytest.skip("../shared/data/stsb is not beside this checkout")
    stsb.data.valid_fraction = 0.0
    data = load(stsb)
    train, test, report = data.train, data.test, data.report
    assert data.valid is None and (report["train_records"], len(test)) == (5749, 1500)
    assert report["validation"]["dropped"] == {"empty": 0, "self_pair": 12, "duplicate": 45, "contradictory": 0}
    assert len(train) == 5749 - 57
    assert all(0 <= p.score <= 1 for p in train.records) and train.records[0].score == pytest.approx(1.0)
    tickets = load_config(examples / "it_tickets.yaml")
    data = load(tickets)
    train, test, report = data.train, data.test, data.report
    assert report["train_records"] == 47837 and report["valid_carved_from_train"] == 0.1
    assert (len(train), len(data.valid), len(test), train.shape) == (1000, 600, 600, "classes")
    assert not {r.text for r in data.valid.records} & {r.text for r in test.records}
    assert len({r.label for r in test.records}) == 8
