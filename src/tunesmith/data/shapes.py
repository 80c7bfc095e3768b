"""The record shapes tunesmith reads, how each is detected, and how it becomes a chat :class:`Example`.

Shapes:
    qa        {"question": ..., "answer": ...}
    alpaca    {"instruction": ..., "input": ... (optional), "output" | "response": ...}
    messages  {"messages": [{"role": "user" | "assistant" | "system", "content": ...}, ...]}
    summary   {"dialogue" | "text" | "document" | "article": ..., "summary": ...} (SAMSum, CNN/DM, ...);
              the text is put after an instruction ("Summarize this dialogue:") as the user's message

Every shape may carry ``category`` and ``difficulty`` (or other fields named in the config); they are kept as
metadata for stratified splits and per-category scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tunesmith.errors import DataError

ROLES = ("system", "user", "assistant")
DOCUMENT_ROLE = "document"  # a training document's one message (:func:`document_example`), never a chat turn
ALPACA_ANSWER_FIELDS = ("output", "response")
SUMMARY_TEXT_FIELDS = ("dialogue", "text", "document", "article")


@dataclass(frozen=True)
class Example:
    """One conversation whose last message is the assistant answer to learn and to score."""

    messages: tuple[dict[str, str], ...]
    category: str | None = None
    difficulty: str | None = None
    source: str = ""
    augmented_from: str | None = None  # set on copies made by `tunesmith augment`: they never reach a test split

    @property
    def is_document(self) -> bool:
        """A plain text trained with the loss on every token (``documents``), not a conversation."""
        return self.messages[0]["role"] == DOCUMENT_ROLE

    @property
    def prompt(self) -> list[dict[str, str]]:
        return list(self.messages[:-1])

    @property
    def answer(self) -> str:
        return self.messages[-1]["content"]

    @property
    def question(self) -> str:
        """The last user message; a document has none ("")."""
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")


def document_example(text: str, source: str, augmented_from: str | None = None) -> Example:
    """A training document: ``text`` learned as it is, the loss on every token (no chat template)."""
    return Example(({"role": DOCUMENT_ROLE, "content": text},), source=source, augmented_from=augmented_from)


@dataclass(frozen=True)
class FieldMap:
    """Where a record keeps its parts; ``None`` means the shape's usual field names."""

    prompt: str | None = None
    answer: str | None = None
    category: str = "category"
    difficulty: str = "difficulty"
    instruction: str | None = None  # summary shape: what precedes the text; None: "Summarize this <field>:"


def detect_shape(record: dict[str, Any], fields: FieldMap) -> str:
    """Name the shape of one record, or raise a DataError listing the shapes that were expected."""
    if fields.prompt and fields.answer:
        return "qa"
    if "messages" in record:
        return "messages"
    if "instruction" in record and any(name in record for name in ALPACA_ANSWER_FIELDS):
        return "alpaca"
    if "question" in record and "answer" in record:
        return "qa"
    if "summary" in record and any(name in record for name in SUMMARY_TEXT_FIELDS):
        return "summary"
    raise DataError(
        f"cannot tell the record's shape from its fields {sorted(record)}; expected question/answer, "
        "instruction/output (alpaca), messages, or dialogue/summary, or set data.prompt_field and data.answer_field"
    )


def to_example(record: dict[str, Any], shape: str, fields: FieldMap, source: str) -> Example:
    """Turn one raw record into an Example; errors name ``source`` (file and line) and the field."""
    if not isinstance(record, dict):
        raise DataError(f"{source}: expected an object with fields, got {type(record).__name__}")
    builders = {
        "qa": _qa_messages,
        "alpaca": _alpaca_messages,
        "messages": _chat_messages,
        "summary": _summary_messages,
    }
    messages = builders[shape](record, fields, source)
    return Example(
        messages=tuple(messages),
        category=_optional_label(record, fields.category, source),
        difficulty=_optional_label(record, fields.difficulty, source),
        source=source,
        augmented_from=_optional_label(record, "augmented_from", source),
    )


def get_field(record: dict[str, Any], dotted: str) -> Any:
    """Read ``a.b.c`` from nested mappings; missing parts give None."""
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def required_text(record: dict[str, Any], name: str, source: str) -> str:
    """The field's text, stripped; missing, not text or empty is a DataError naming ``source`` and the field."""
    value = get_field(record, name)
    if value is None:
        raise DataError(f"{source}: field '{name}' is missing")
    if not isinstance(value, str):
        raise DataError(f"{source}: field '{name}' must be text, got {type(value).__name__}")
    if not value.strip():
        raise DataError(f"{source}: field '{name}' is empty")
    return value.strip()


def _optional_label(record: dict[str, Any], name: str, source: str) -> str | None:
    value = get_field(record, name)
    if value is None or value == "":
        return None
    if not isinstance(value, (str, int, float)):
        raise DataError(f"{source}: field '{name}' must be a short label, got {type(value).__name__}")
    return str(value).strip()


def _qa_messages(record: dict[str, Any], fields: FieldMap, source: str) -> list[dict[str, str]]:
    question = required_text(record, fields.prompt or "question", source)
    answer = required_text(record, fields.answer or "answer", source)
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def _summary_messages(record: dict[str, Any], fields: FieldMap, source: str) -> list[dict[str, str]]:
    text_field = fields.prompt or next((name for name in SUMMARY_TEXT_FIELDS if name in record), "text")
    text = required_text(record, text_field, source)
    summary = required_text(record, fields.answer or "summary", source)
    instruction = fields.instruction or f"Summarize this {text_field.rsplit('.', 1)[-1]}:"
    return [{"role": "user", "content": f"{instruction}\n\n{text}"}, {"role": "assistant", "content": summary}]


def _alpaca_messages(record: dict[str, Any], fields: FieldMap, source: str) -> list[dict[str, str]]:
    instruction = required_text(record, "instruction", source)
    answer_name = next((name for name in ALPACA_ANSWER_FIELDS if name in record), ALPACA_ANSWER_FIELDS[0])
    answer = required_text(record, answer_name, source)
    extra = record.get("input")
    if extra is not None and not isinstance(extra, str):
        raise DataError(f"{source}: field 'input' must be text, got {type(extra).__name__}")
    prompt = f"{instruction}\n\n{extra.strip()}" if extra and extra.strip() else instruction
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


def _chat_messages(record: dict[str, Any], fields: FieldMap, source: str) -> list[dict[str, str]]:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{source}: field 'messages' must be a non-empty list")
    if len(messages) == 1 and isinstance(messages[0], dict) and messages[0].get("role") == DOCUMENT_ROLE:
        # a run folder's training split holds its documents this way (data/train.jsonl)
        return [{"role": DOCUMENT_ROLE, "content": required_text(messages[0], "content", source)}]
    checked = []
    for index, message in enumerate(messages):
        where = f"{source}: field 'messages[{index}]"
        if not isinstance(message, dict):
            raise DataError(f"{where}' must be an object with role and content")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise DataError(f"{where}.role' must be one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str) or not content.strip():
            raise DataError(f"{where}.content' must be non-empty text")
        checked.append({"role": role, "content": content.strip()})
    if checked[-1]["role"] != "assistant":
        raise DataError(f"{source}: field 'messages' must end with an assistant message (the answer to learn)")
    if not any(m["role"] == "user" for m in checked):
        raise DataError(f"{source}: field 'messages' has no user message")
    return checked
