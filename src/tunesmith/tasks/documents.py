"""Knowledge trained as plain text beside the Q&A (the ``documents`` section of a Q&A/chat run).

Jiang et al. 2024 ("Instruction-tuned language models are better knowledge learners") found that a model answers
more questions about documents it was trained on as plain text, mixed with the Q&A, than from the Q&A alone. Here
each distinct training answer (``documents.answers``) and each passage of the given files (``documents.files``,
split by heading and paragraph as the retrieval knowledge base splits them) becomes a training row learned as it
is: no chat template, the loss on every token (:func:`tunesmith.models.chat.encode_example`). The rows join the
training split only, after splitting and after rewrites, so valid and test still hold questions alone. How many:
``documents.share`` rows per Q&A row, or by the plan every document once an epoch.
"""

from __future__ import annotations

import random

from tunesmith.data import Example
from tunesmith.data.shapes import document_example
from tunesmith.data.split import example_key
from tunesmith.plan.choices import Choice
from tunesmith.retrieval.passages import answer_key, passages_from_documents


def add_documents(config, train: list[Example]) -> tuple[list[Example], dict]:
    """``train`` followed by its document rows, and what was added (run.json's ``data.documents``)."""
    settings = config.documents
    conversations = [example for example in train if not example.is_document]
    documents: dict[str, Example] = {}
    if settings.answers:
        for example in conversations:
            if example.augmented_from is None:  # an original's answer; its copies share it
                text = example.answer.strip()
                documents.setdefault(answer_key(text), document_example(text, example.source, example_key(example)))
    from_answers = len(documents)
    for passage in passages_from_documents(settings.files, settings.passage_words):
        documents.setdefault(answer_key(passage.text), document_example(passage.text, passage.source))
    pool = list(documents.values())
    if not pool or not conversations:
        return list(train), {}
    share = settings.share if settings.share is not None else len(pool) / len(conversations)
    rows = max(1, round(share * len(conversations)))
    added = _draw(pool, rows, config.training.seed)
    report = {
        "documents": len(pool),
        "from_answers": from_answers,
        "from_files": len(pool) - from_answers,
        "rows": rows,
        "share": round(rows / len(conversations), 4),
        "share_from": "config" if settings.share is not None else "plan",
    }
    return [*train, *added], report


def plan_choice(report: dict) -> Choice:
    """The document rows as a plan choice, with its reason."""
    what = f"{report['from_answers']} training answers + {report['from_files']} file passages as plain text"
    if report["share_from"] == "config":
        return Choice(report["rows"], f"{what}, {report['share']:g} a Q&A row (set in the config)", "config")
    return Choice(
        report["rows"],
        f"{what}, each once an epoch beside the Q&A ({report['share']:g} a Q&A row): knowledge read as text and "
        "asked as questions is recalled better than from questions alone (Jiang et al. 2024)",
        "plan",
    )


def _draw(pool: list[Example], rows: int, seed: int) -> list[Example]:
    """``rows`` documents: whole passes over the pool, then a seeded sample of it, so every document appears as
    evenly as the count allows."""
    whole, rest = divmod(rows, len(pool))
    return pool * whole + random.Random(seed).sample(pool, rest)
