"""A report as a list of blocks (headings, paragraphs, tables, images, lists, examples) rendered two ways:
Markdown beside PNG files, and one self-contained HTML file with the images embedded."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Image:
    path: Path  # a PNG inside the report's folder
    caption: str


@dataclass
class BulletList:
    items: list[str]


@dataclass
class Example:
    """A worked example: labelled texts shown verbatim (answers keep their URLs and numbers)."""

    title: str
    fields: list[tuple[str, str]]


@dataclass
class Document:
    title: str
    blocks: list = field(default_factory=list)

    def add(self, *blocks) -> None:
        self.blocks.extend(blocks)


def to_markdown(document: Document, relative_to: Path) -> str:
    lines = [f"# {document.title}", ""]
    for block in document.blocks:
        lines.extend(_markdown_block(block, relative_to))
        lines.append("")
    return "\n".join(lines)


def to_html(document: Document) -> str:
    body = "\n".join(_html_block(block) for block in document.blocks)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(document.title)}</title><style>{_CSS}</style></head>\n"
        f"<body><h1>{html.escape(document.title)}</h1>\n{body}\n</body></html>\n"
    )


def _markdown_block(block, relative_to: Path) -> list[str]:
    if isinstance(block, Heading):
        return ["#" * block.level + " " + block.text]
    if isinstance(block, Paragraph):
        return [block.text]
    if isinstance(block, Table):
        caption = [f"*{block.caption}*", ""] if block.caption else []
        header = "| " + " | ".join(_cell(h) for h in block.headers) + " |"
        rule = "|" + "|".join("---" for _ in block.headers) + "|"
        return [*caption, header, rule, *("| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows)]
    if isinstance(block, Image):
        return [f"![{block.caption}]({block.path.relative_to(relative_to).as_posix()})"]
    if isinstance(block, BulletList):
        return [f"- {item}" for item in block.items]
    if isinstance(block, Example):
        lines = [f"**{block.title}**", ""]
        for label, text in block.fields:
            lines.append(f"- *{label}*: " + text.replace("\n", " "))
        return lines
    raise TypeError(f"unknown report block {type(block).__name__}")


def _html_block(block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{html.escape(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p>{html.escape(block.text)}</p>"
    if isinstance(block, Table):
        caption = f"<caption>{html.escape(block.caption)}</caption>" if block.caption else ""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in block.rows)
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    if isinstance(block, Image):
        data = base64.b64encode(block.path.read_bytes()).decode("ascii")
        alt = html.escape(block.caption)
        return f"<figure><img src='data:image/png;base64,{data}' alt='{alt}'><figcaption>{alt}</figcaption></figure>"
    if isinstance(block, BulletList):
        return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Example):
        rows = "".join(f"<dt>{html.escape(label)}</dt><dd>{html.escape(text)}</dd>" for label, text in block.fields)
        return f"<div class='example'><h3>{html.escape(block.title)}</h3><dl>{rows}</dl></div>"
    raise TypeError(f"unknown report block {type(block).__name__}")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
caption { text-align: left; font-style: italic; padding-bottom: 0.3em; }
figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #eee; }
.example { border-left: 3px solid #999; padding-left: 1em; margin-bottom: 1em; }
dt { font-weight: bold; } dd { margin: 0 0 0.4em 1em; white-space: pre-wrap; }
"""
