"""The knowledge base as passages: training records, Markdown/text documents, or ready-made JSONL passages.

A passage is what the retriever ranks and what the generator later reads, so each one keeps where it came from
(``source``: ``train.jsonl:12``, ``handbook.md#Admissions > Deadlines``) for citing and debugging. Ids are a hash
of the text: they stay the same when a document is edited elsewhere or files are read in another order, so gold
passage ids written into an evaluation or training set keep pointing at the same text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tunesmith.data.load import parse_json
from tunesmith.data.shapes import required_text
from tunesmith.errors import DataError
from tunesmith.textfiles import open_text, read_text

if TYPE_CHECKING:
    from tunesmith.data.shapes import Example

# all-MiniLM-L6-v2 reads at most 256 word pieces (about 190 English words) and silently cuts the rest: a passage
# longer than that would be indexed by its beginning only.
MAX_WORDS = 150
DOCUMENT_SUFFIXES = (".md", ".txt", ".jsonl")
SAVE_AS_UTF8 = "save the document as UTF-8"
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Passage:
    """One retrievable text. Identical texts get the same id (a retriever cannot tell them apart anyway)."""

    id: str
    text: str
    source: str


def passage_id(text: str) -> str:
    """A stable id: the first 16 hex digits of the text's SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def make_passage(text: str, source: str) -> Passage:
    return Passage(id=passage_id(text), text=text, source=source)


def answer_key(answer: str) -> str:
    """Answers compared without case or spacing differences: records phrased differently share their answer."""
    return " ".join(answer.split()).lower()


def passages_from_examples(examples: Sequence[Example], source_name: str) -> list[Passage]:
    """One passage per distinct answer: every training question asked of it, one a line, then the answer; its
    source ``<source_name>:<first record number>``.

    The records are the knowledge the generator is tuned on; indexing them lets it be tuned to answer from what is
    retrieved (RAFT) and lets a served model look an answer up instead of recalling it. A fact asked in several
    phrasings is one passage (not one per phrasing, which would crowd the top k with copies of one fact), and a
    question asked in new words finds it by any of them.
    """
    return list(answer_passages(examples, source_name).values())


def answer_passages(examples: Sequence[Example], source_name: str) -> dict[str, Passage]:
    """:func:`passages_from_examples` keyed by :func:`answer_key`: the passage that holds each answer (its gold)."""
    groups: dict[str, list[tuple[int, Example]]] = {}
    for number, example in enumerate(examples, start=1):
        groups.setdefault(answer_key(example.answer), []).append((number, example))
    passages = {}
    for key, group in groups.items():
        questions = list(dict.fromkeys(example.question.strip() for _, example in group))
        text = "\n".join([*questions, group[0][1].answer.strip()])
        passages[key] = make_passage(text, f"{source_name}:{group[0][0]}")
    return passages


def passages_from_documents(paths: Iterable[str | Path], max_words: int = MAX_WORDS) -> list[Passage]:
    """Passages from ``.md``/``.txt`` documents (split by heading, then paragraph) and ``.jsonl`` passage files.

    Documents: each section under a Markdown heading is cut at blank lines into paragraphs, and consecutive
    paragraphs are packed into passages of at most ``max_words`` words (a longer paragraph is cut into pieces).
    The section's heading path starts the passage's text (``Admissions > Deadlines``), so a passage keeps the
    context its paragraphs lean on, and ends its source (``handbook.md#Admissions > Deadlines``).

    JSONL: one passage a line, ``{"text": ..., "id": ... (optional), "source": ... (optional)}``.

    Raises:
        DataError: an unsupported or missing file, or a bad line (naming the file, the line and the field).
    """
    if max_words < 1:
        raise ValueError(f"max_words must be at least 1, got {max_words}")
    passages: list[Passage] = []
    for path in map(Path, paths):
        if path.suffix.lower() not in DOCUMENT_SUFFIXES:
            raise DataError(f"{path}: unsupported file type '{path.suffix}', expected one of .md, .txt, .jsonl")
        if not path.is_file():
            raise DataError(f"{path}: document not found")
        found = list(_jsonl_passages(path) if path.suffix.lower() == ".jsonl" else _document_passages(path, max_words))
        if not found:
            raise DataError(f"{path}: no text found")
        passages += found
    return passages


def _jsonl_passages(path: Path) -> Iterator[Passage]:
    with open_text(path, fix=SAVE_AS_UTF8) as handle:  # a BOM is skipped; bad bytes name the line and offset
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            record = parse_json(line, where)
            if not isinstance(record, dict):
                raise DataError(f"{where}: expected an object with a 'text' field, got {type(record).__name__}")
            text = required_text(record, "text", where)
            for field, allowed in (("id", (str, int)), ("source", (str,))):
                if record.get(field) is not None and not isinstance(record[field], allowed):
                    raise DataError(f"{where}: field '{field}' must be text, got {type(record[field]).__name__}")
            identifier = record.get("id")
            yield Passage(
                id=passage_id(text) if identifier is None else str(identifier),
                text=text,
                source=record.get("source") or f"{path.name}:{number}",
            )


def _document_passages(path: Path, max_words: int) -> Iterator[Passage]:
    for headings, paragraphs in _sections(read_text(path, fix=SAVE_AS_UTF8)):
        prefix = " > ".join(headings)
        room = max(1, max_words - len(prefix.split()))  # the heading line counts against the budget
        source = f"{path.name}#{prefix}" if prefix else path.name  # cited to users: no folder of this machine
        for chunk in _pack(paragraphs, room):
            yield make_passage(f"{prefix}\n{chunk}" if prefix else chunk, source)


def _sections(text: str) -> Iterator[tuple[list[str], list[str]]]:
    """(heading path, paragraphs) for each section; headings and blank lines inside code fences do not count."""
    headings: list[tuple[int, str]] = []
    paragraphs: list[str] = []
    lines: list[str] = []
    in_fence = False

    def end_paragraph() -> None:
        if any(line.strip() for line in lines):
            paragraphs.append("\n".join(lines).strip())
        lines.clear()

    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else HEADING.match(line)
        if heading:
            end_paragraph()
            if paragraphs:
                yield [title for _, title in headings], paragraphs
            paragraphs = []
            level = len(heading.group(1))
            headings = [(depth, title) for depth, title in headings if depth < level] + [(level, heading.group(2))]
        elif not line.strip() and not in_fence:
            end_paragraph()
        else:
            lines.append(line)
    end_paragraph()
    if paragraphs:
        yield [title for _, title in headings], paragraphs


def _pack(paragraphs: list[str], max_words: int) -> Iterator[str]:
    """Consecutive paragraphs joined while they fit in ``max_words``; an oversized paragraph cut into pieces."""
    current: list[str] = []
    used = 0
    for paragraph in paragraphs:
        words = paragraph.split()
        if len(words) > max_words:
            pieces = [" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words)]
        else:
            pieces = [paragraph]
        for piece in pieces:
            size = len(piece.split())
            if current and used + size > max_words:
                yield "\n\n".join(current)
                current, used = [], 0
            current.append(piece)
            used += size
    if current:
        yield "\n\n".join(current)
