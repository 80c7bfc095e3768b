"""Where candidate rewrites come from: rules, a local causal model (transformers), or an OpenAI-compatible endpoint.

Every generator gives, for each question, a list of candidate phrasings (more than are kept: the filter in
:mod:`tunesmith.rewrite.select` drops some) and an ``identity``, the settings its candidates depend on, which keys
the cache. Models are asked in plain words to keep every name, number and code; what they fail to keep the filter
catches.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.errors import ConfigError, DataError
from tunesmith.rewrite.rules import rule_rewrites

ASK_ONE = (
    "Rewrite the question below in other words, as a different person might ask it. Keep every name, number and "
    "code exactly as written, and do not answer it. Reply with the new question only.\n\nQuestion: {question}"
)
ASK_MANY = (
    "Write {n} different ways to ask the question below, one per line, without numbering. Keep every name, number "
    "and code exactly as written, and do not answer it.\n\nQuestion: {question}"
)
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)]|question\s*\d*\s*:|rewrite\s*\d*\s*:)\s*", re.IGNORECASE)
SAMPLING = {"temperature": 0.9, "top_p": 0.95}  # varied phrasings; the filter drops those that drift
MODEL_BATCH = 8  # questions sampled at once by a local model
MAX_NEW_TOKENS = 64  # a question is short; a longer reply is an answer or a list, cut


class RulesGenerator:
    """:func:`tunesmith.rewrite.rules.rule_rewrites`: no model, the same forms on every machine."""

    label = "rules"
    identity = {"kind": "rules", "version": 1}

    def candidates(self, questions: list[str], n: int) -> list[list[str]]:
        return [rule_rewrites(question) for question in questions]


@dataclass
class ModelGenerator:
    """Samples from a local causal model (a folder or hub id, through transformers' ``generate``), one rewrite a
    sample, ``n`` samples a question."""

    model: str
    seed: int = 42
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = f"model {self.model}"

    @property
    def identity(self) -> dict:
        return {"kind": "model", "model": self.model, "seed": self.seed, "prompt": ASK_ONE, **SAMPLING}

    def candidates(self, questions: list[str], n: int) -> list[list[str]]:
        import torch
        from tqdm.auto import tqdm
        from transformers import set_seed

        from tunesmith.models import resolve_model
        from tunesmith.models.chat import prompt_text
        from tunesmith.models.load import load_base_model, load_tokenizer

        folder = resolve_model(self.model)
        tokenizer, model = load_tokenizer(Path(folder)), load_base_model(Path(folder))
        tokenizer.padding_side = "left"
        model.eval()
        set_seed(self.seed)
        found: list[list[str]] = []
        batches = range(0, len(questions), MODEL_BATCH)
        for start in tqdm(batches, desc="rewriting questions", unit="batch"):
            batch = questions[start : start + MODEL_BATCH]
            asks = [[{"role": "user", "content": ASK_ONE.format(question=question)}] for question in batch]
            prompts = [prompt_text(tokenizer, messages) for messages in asks]
            inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.inference_mode():
                output = model.generate(
                    **inputs,
                    do_sample=True,
                    num_return_sequences=n,
                    max_new_tokens=MAX_NEW_TOKENS,
                    pad_token_id=tokenizer.pad_token_id,
                    **SAMPLING,
                )
            texts = tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
            for index in range(len(batch)):
                found.append(_first_lines(texts[index * n : (index + 1) * n]))
        return found


@dataclass
class EndpointGenerator:
    """Any OpenAI-compatible chat endpoint (Ollama's /v1, a llama.cpp server, vLLM, ``tunesmith serve``) through
    the ``openai`` client: one request a question, asking for ``n`` rewrites one a line."""

    base_url: str
    model: str
    api_key_env: str | None = None
    max_tokens: int | None = None  # the reply's cap; by default MAX_NEW_TOKENS for each rewrite asked for
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = f"endpoint {self.base_url} ({self.model})"

    @property
    def identity(self) -> dict:
        return {"kind": "endpoint", "base_url": self.base_url, "model": self.model, "prompt": ASK_MANY, **SAMPLING}

    def candidates(self, questions: list[str], n: int) -> list[list[str]]:
        from tqdm.auto import tqdm

        client = self._client()
        found = []
        for question in tqdm(questions, desc="rewriting questions", unit="question"):
            try:
                reply = client.chat.completions.create(
                    model=self.model,
                    messages=[{"role": "user", "content": ASK_MANY.format(n=n, question=question)}],
                    max_tokens=self.max_tokens or MAX_NEW_TOKENS * n,
                    **SAMPLING,
                )
            except Exception as err:  # the client's connection, status and timeout errors: one clear message
                raise DataError(f"rewrite endpoint {self.base_url} failed: {type(err).__name__}: {err}") from err
            text = reply.choices[0].message.content or "" if reply.choices else ""
            found.append([line for line in (_clean(part) for part in text.splitlines()) if line])
        return found

    def _client(self):
        try:
            from openai import OpenAI
        except ImportError as err:
            raise ConfigError(
                "rewrites from an endpoint need the openai client: pip install 'tunesmith[endpoint]'"
            ) from err
        key = os.environ.get(self.api_key_env or "", "") or "none"  # local servers (Ollama, llama.cpp) need none
        return OpenAI(base_url=self.base_url, api_key=key, timeout=120, max_retries=1)


def make_generator(kind: str, model: str | None, base_url: str | None, api_key_env: str | None, seed: int = 42):
    """The generator a config's ``rewrites`` section (or ``augment --rewrite``) names."""
    if kind == "rules":
        return RulesGenerator()
    if kind == "model":
        from tunesmith.config.schema import DEFAULT_MODEL

        return ModelGenerator(model or DEFAULT_MODEL, seed)
    if kind == "endpoint":
        if not base_url or not model:
            raise ConfigError("rewrites from an endpoint need its base URL and the model to ask for")
        return EndpointGenerator(base_url, model, api_key_env)
    raise ConfigError(f"unknown rewrite generator '{kind}'; choose rules, model or endpoint")


def _first_lines(texts: list[str]) -> list[str]:
    lines = (_clean(text.strip().splitlines()[0]) if text.strip() else "" for text in texts)
    return [line for line in lines if line]


def _clean(line: str) -> str:
    """A reply's line without list marks, quotes or a "Question:" label; empty when nothing of a question is left."""
    line, before = line.strip(), None
    while line != before:  # "- Question: ..." carries two marks
        before, line = line, _LIST_MARK.sub("", line).strip().strip("\"'“”").strip()
    return line if len(line.split()) >= 2 else ""
