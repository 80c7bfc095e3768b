"""Passages from training records, Markdown documents and JSONL passage files."""

import json

import pytest

from tests.conftest import write_jsonl
from tunesmith.data import load_examples
from tunesmith.errors import DataError
from tunesmith.retrieval import passages_from_documents, passages_from_examples
from tunesmith.retrieval.passages import passage_id

HANDBOOK = """Welcome to the department.

# Admissions

Applications open in September. Every applicant sends two letters of reference.

Late applications are read only if places remain after the March round.

## Deadlines

The first round closes on 1 December.

The second round closes on 1 March; decisions follow within six weeks.

```
# not a heading: inside a code fence

still the same paragraph
```

# Courses

CSC 450 Operating Systems is worth 3 credit hours and is taught every spring by the systems group.
Students need CSC 210 first.
"""


def test_each_distinct_answer_is_one_passage_its_questions_then_the_answer(tmp_path):
    path = write_jsonl(
        tmp_path / "train.jsonl",
        [
            {"question": "How many credits is CSC 450?", "answer": "3."},
            {"question": "Who teaches it?", "answer": "Dr. Ada."},
            {"question": "What is CSC 450 worth in credit hours?", "answer": "3. "},  # the same fact, re-worded
        ],
    )
    first, second = passages_from_examples(load_examples(path), "train.jsonl")
    assert first.text == "How many credits is CSC 450?\nWhat is CSC 450 worth in credit hours?\n3."
    assert first.source == "train.jsonl:1" and second.source == "train.jsonl:2"
    assert first.id == passage_id(first.text) and first.id != second.id


def test_a_markdown_document_splits_by_heading_and_packs_paragraphs_within_the_budget(tmp_path):
    path = tmp_path / "handbook.md"
    path.write_text(HANDBOOK)
    passages = passages_from_documents([path], max_words=20)

    assert all(len(p.text.split()) <= 20 for p in passages)
    by_source = {}
    for passage in passages:
        by_source.setdefault(passage.source.split("#", 1)[-1] if "#" in passage.source else "", []).append(passage)
    assert set(by_source) == {"", "Admissions", "Admissions > Deadlines", "Courses"}
    assert [p.text for p in by_source[""]] == ["Welcome to the department."]  # before the first heading
    # Two Admissions paragraphs (11 and 12 words, heading 1) do not fit in one passage of 20 words.
    assert len(by_source["Admissions"]) == 2
    assert all(p.text.startswith("Admissions\n") for p in by_source["Admissions"])
    # The deadlines section keeps its heading path; the fenced "# not a heading" is text, not a section.
    deadlines = "\n".join(p.text for p in by_source["Admissions > Deadlines"])
    assert deadlines.startswith("Admissions > Deadlines\nThe first round") and "# not a heading" in deadlines
    assert by_source["Admissions > Deadlines"][0].source == "handbook.md#Admissions > Deadlines"
    # A paragraph longer than the budget is cut into pieces that each fit.
    assert len(by_source["Courses"]) == 2 and "CSC 450" in by_source["Courses"][0].text

    roomy = passages_from_documents([path], max_words=200)
    assert len([p for p in roomy if p.source.endswith("#Admissions")]) == 1  # both paragraphs packed together
    assert [p.id for p in passages_from_documents([path], max_words=20)] == [p.id for p in passages]  # stable


def test_jsonl_passages_keep_their_id_and_source_or_get_defaults(tmp_path):
    path = write_jsonl(
        tmp_path / "kb.jsonl",
        [
            {"text": "CSC 450 is 3 credit hours.", "id": "csc-450", "source": "catalog#CSC 450"},
            {"text": "Library hours."},
        ],
    )
    first, second = passages_from_documents([path])
    assert (first.id, first.source) == ("csc-450", "catalog#CSC 450")
    assert second.id == passage_id("Library hours.") and second.source == "kb.jsonl:2"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"id": "x"}, "field 'text' is missing"),
        ({"text": 7}, "field 'text' must be text, got int"),
        ({"text": "  "}, "field 'text' is empty"),
        ({"text": "ok", "source": ["a"]}, "field 'source' must be text, got list"),
        (["text"], "expected an object with a 'text' field, got list"),
    ],
)
def test_a_bad_jsonl_passage_line_names_the_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "kb.jsonl"
    path.write_text(json.dumps({"text": "fine"}) + "\n\n" + json.dumps(line) + "\n")
    with pytest.raises(DataError) as raised:
        passages_from_documents([path])
    assert str(raised.value) == f"{path}:3: {message}"


def test_invalid_json_missing_files_and_other_types_are_named(tmp_path):
    broken = tmp_path / "kb.jsonl"
    broken.write_text('{"text": "a"\n')
    with pytest.raises(DataError, match=rf"{broken}:1: not valid JSON"):
        passages_from_documents([broken])
    with pytest.raises(DataError, match="document not found"):
        passages_from_documents([tmp_path / "missing.md"])
    with pytest.raises(DataError, match=r"unsupported file type '\.pdf'"):
        passages_from_documents([tmp_path / "handbook.pdf"])
    (tmp_path / "empty.md").write_text("# Only a heading\n\n")
    with pytest.raises(DataError, match="empty.md: no text found"):
        passages_from_documents([tmp_path / "empty.md"])
