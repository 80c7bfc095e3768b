"""An Ollama folder: the GGUF and a Modelfile with the chat template, stop tokens, system prompt and sampling.

Ollama's TEMPLATE is a Go template, not Jinja; instead of translating Jinja, the model's own chat template is
rendered with marker messages and cut into the text each role's turn starts and ends with. That works for the
role-delimited templates small chat models use (ChatML and the like) and is checked: the pieces must rebuild
the Jinja rendering of a multi-turn conversation exactly, or the export stops with an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.errors import ExportError

ROLES = ("system", "user", "assistant")
MARK = "\x00TUNESMITH-{}\x00"


@dataclass(frozen=True)
class ChatFormat:
    """Each role's turn as ``prefix + content + suffix``; ``generation`` opens the assistant's answer."""

    prefix: dict[str, str]
    suffix: dict[str, str]
    generation: str
    default_system: str | None

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        text = "".join(self.prefix[m["role"]] + m["content"] + self.suffix[m["role"]] for m in messages)
        return text + (self.generation if add_generation_prompt else "")


def chat_format(tokenizer) -> ChatFormat:
    """Cut the tokenizer's chat template into per-role pieces.

    Raises:
        ExportError: the template is not role-delimited (the pieces do not rebuild its own rendering).
    """

    def render(messages, generation=False) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)

    conversation = [{"role": role, "content": MARK.format(role)} for role in ROLES]
    prefix, suffix, done = {}, {}, ""
    for index, role in enumerate(ROLES):
        whole = render(conversation[: index + 1])
        if not whole.startswith(done):
            raise ExportError("the chat template does not render turns as a prefix of the whole conversation")
        piece = whole[len(done) :]
        prefix[role], _, suffix[role] = piece.partition(MARK.format(role))
        done = whole
    generation = render(conversation[:2], True)[len(render(conversation[:2])) :]
    bare = render([{"role": "user", "content": MARK.format("user")}])
    default = bare.partition(prefix["user"] + MARK.format("user"))[0]
    default_system = None
    if default.startswith(prefix["system"]) and default.endswith(suffix["system"]) and default:
        default_system = default[len(prefix["system"]) : len(default) - len(suffix["system"])]
    found = ChatFormat(prefix, suffix, generation, default_system)
    _check(found, render)
    return found


def _check(found: ChatFormat, render) -> None:
    sample = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello! Call (541) 555-0187."},
        {"role": "user", "content": "Mail? See https://a.example/x?y=1"},
    ]
    if found.render(sample) != render(sample, True):
        raise ExportError("the chat template is not role-delimited; it cannot be written as an Ollama TEMPLATE")


def go_template(found: ChatFormat) -> str:
    """The Ollama TEMPLATE: each message with its role's prefix and suffix, then the answer's opening."""
    branches = []
    for keyword, role in zip(("if", "else if", "else if"), ROLES):
        turn = _go(found.prefix[role]) + "{{ .Content }}" + _go(found.suffix[role])
        branches.append(f'{{{{ {keyword} eq .Role "{role}" }}}}{turn}')
    return "{{- range .Messages }}" + "".join(branches) + "{{ end }}{{ end }}" + _go(found.generation)


def _go(text: str) -> str:
    # Literal text in a Go template is copied as is, except an opening "{{".
    return text.replace("{{", '{{ "{{" }}')


def stop_strings(tokenizer, model) -> list[str]:
    """Text of the tokens that end a turn: the generation config's and tokenizer's end-of-text tokens and the chat
    template's end of turn (:func:`tunesmith.models.decoding.stop_token_ids`), as scoring and serve stop."""
    from tunesmith.models.decoding import stop_token_ids

    return list(dict.fromkeys(tokenizer.convert_ids_to_tokens(i) for i in stop_token_ids(model, tokenizer)))


def modelfile(
    found: ChatFormat,
    stops: list[str],
    system_prompt: str | None,
    max_new_tokens: int | None,
    context_length: int,
    gguf_name: str = "model.gguf",
    decoding: dict | None = None,
    chosen: str | None = None,
) -> str:
    """The Modelfile; sampling is greedy (temperature 0). ``decoding`` is what tunesmith scored the run with
    (``chosen``: why); Ollama has no beam search nor a guard over repeated n-grams, so a comment says what differs."""
    system = system_prompt if system_prompt is not None else found.default_system
    if '"""' in go_template(found) + (system or ""):
        raise ExportError('the chat template or system prompt contains """, which a Modelfile cannot quote')
    lines = _decoding_comments(decoding or {}, chosen)
    lines += [f"FROM ./{gguf_name}", f'TEMPLATE """{go_template(found)}"""']
    if system:
        lines.append(f'SYSTEM """{system}"""')
    lines += [f'PARAMETER stop "{_quote(stop)}"' for stop in stops]
    lines += ["PARAMETER temperature 0", "PARAMETER top_k 1", f"PARAMETER num_ctx {context_length}"]
    if max_new_tokens:
        lines.append(f"PARAMETER num_predict {max_new_tokens}")
    return "\n".join(lines) + "\n"


def _decoding_comments(decoding: dict, chosen: str | None) -> list[str]:
    beams, guard = decoding.get("num_beams", 1), decoding.get("no_repeat_ngram_size", 0)
    scored = ("greedy" if beams == 1 else f"beam search ({beams} beams)") + (f", {guard}-gram guard" if guard else "")
    lines = [f"# tunesmith scored this run decoding {scored}" + (f"; {chosen}" if chosen else "")]
    if beams > 1 or guard:
        lines.append("# Ollama has neither beam search nor an n-gram guard: it decodes greedily (temperature 0)")
    return lines


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
