"""An Ollama folder: the GGUF and a Modelfile with the chat template, stop tokens, system prompt and sampling.

Ollama's TEMPLATE is a Go template, not Jinja; instead of translating Jinja, the model's own chat template is
rendered with marker messages and cut into the text each role's turn starts and ends with: first from
conversations one turn longer each time (ChatML, Llama 3), else from generation prompts alone (a BOS written once,
no system turn as Mistral's and Gemma's, text that closes a whole conversation as Phi-3's). Either way it is
checked: the pieces must rebuild the Jinja rendering of a multi-turn conversation exactly, or the export stops with
an error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tunesmith.errors import ExportError

ROLES = ("system", "user", "assistant")
MARK = "\x00TUNESMITH-{}\x00"


@dataclass(frozen=True)
class ChatFormat:
    """Each role's turn as ``prefix + content + suffix``; ``generation`` opens the assistant's answer.

    ``start`` comes before the first message. ``system_join`` set: the template has no system turn of its own (or
    folds it in itself, as Gemma 3's does), so the system prompt opens the first user turn followed by that text.
    """

    prefix: dict[str, str]
    suffix: dict[str, str]
    generation: str
    default_system: str | None
    start: str = ""
    system_join: str | None = None

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        text, pending = self.start, None
        for message in messages:
            role, content = message["role"], message["content"]
            if role == "system" and self.system_join is not None:
                pending = content
                continue
            if role == "user" and pending is not None:
                content, pending = pending + self.system_join + content, None
            text += self.prefix[role] + content + self.suffix[role]
        return text + (self.generation if add_generation_prompt else "")


def chat_format(tokenizer) -> ChatFormat:
    """Cut the tokenizer's chat template into per-role pieces (without the BOS text llama.cpp adds itself).

    Raises:
        ExportError: the template is not role-delimited (the pieces do not rebuild its own rendering).
    """
    from jinja2 import TemplateError

    try:
        found = _by_turns(tokenizer)
    except (ExportError, TemplateError):
        try:  # a BOS written once, a system prompt folded into the first user turn, text closing a conversation
            found = _by_prompts(tokenizer)
        except (ExportError, TemplateError) as error:
            raise ExportError(f"the chat template cannot be written as an Ollama TEMPLATE: {error}") from error
    return _without_bos(found, tokenizer)


def _by_turns(tokenizer) -> ChatFormat:
    """Each role's piece from conversations one turn longer than the last (ChatML, Llama 3 and the like)."""

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
    _check(found, lambda messages: render(messages, True), with_system_only=True)  # Ollama always sends one
    return found


def _by_prompts(tokenizer) -> ChatFormat:
    """The pieces from generation prompts, rendered as tunesmith renders them (a template without a system role
    gets the system prompt in the first user turn): Mistral, Gemma 2 and 3, Phi-3, Qwen3. Where two pieces meet
    (an answer's end and the next question's start), the cut is put where the first message's rendering has it, and
    never inside a special token."""
    from tunesmith.models.chat import chat_text, prompt_text

    def render(messages, generation=True) -> str:
        system = [m["content"] for m in messages if m["role"] == "system"]
        rest = [m for m in messages if m["role"] != "system"]
        return (prompt_text if generation else chat_text)(tokenizer, rest, system[0] if system else None)

    specials = [token for token in tokenizer.all_special_tokens if len(token) > 1]
    mark = {role: MARK.format(role) for role in ROLES}
    second = "\x00TUNESMITH-user2\x00"
    turns = [{"role": "user", "content": mark["user"]}, {"role": "assistant", "content": mark["assistant"]}]
    before, rest = _split(render([*turns, {"role": "user", "content": second}]), mark["user"])
    user_to_answer, rest = _split(rest, mark["assistant"])
    answer_to_user, tail = _split(rest, second)
    closed = _split(render(turns[:1], generation=False), mark["user"])[1]  # the question's turn without an answer
    user_prefix = _common(before, answer_to_user, specials, from_end=True)
    user_suffix = _common(_common(user_to_answer, tail, specials), closed, specials)
    start = before[: len(before) - len(user_prefix)]
    prefix = {"user": user_prefix, "assistant": user_to_answer[len(user_suffix) :]}
    suffix = {"user": user_suffix, "assistant": answer_to_user[: len(answer_to_user) - len(user_prefix)]}
    generation = tail[len(user_suffix) :]
    system_before, rest = _split(render([{"role": "system", "content": mark["system"]}, turns[0]]), mark["system"])
    between = _split(rest, mark["user"])[0]
    if system_before == start + user_prefix:  # folded into the first user turn
        found = ChatFormat(prefix, suffix, generation, None, start, system_join=between)
    elif system_before.startswith(start) and between.endswith(user_prefix):  # a turn of its own
        prefix["system"] = system_before[len(start) :]
        suffix["system"] = between[: len(between) - len(user_prefix)]
        found = ChatFormat(prefix, suffix, generation, None, start)
    else:
        raise ExportError("the chat template does not render a system prompt as a turn or in the first user turn")
    _check(found, render)
    return found


def _split(text: str, mark: str) -> tuple[str, str]:
    if text.count(mark) != 1:
        raise ExportError("the chat template does not render each message once")
    before, _, after = text.partition(mark)
    return before, after


def _common(a: str, b: str, specials: list[str], from_end: bool = False) -> str:
    """The longest common start (``from_end``: end) of ``a`` and ``b`` that does not cut a special token."""
    if from_end:
        a, b = a[::-1], b[::-1]
        specials = [token[::-1] for token in specials]
    size = 0
    while size < min(len(a), len(b)) and a[size] == b[size]:
        size += 1
    while size and any(_inside(text, size, specials) for text in (a, b)):
        size -= 1
    common = a[:size]
    return common[::-1] if from_end else common


def _inside(text: str, cut: int, specials: list[str]) -> bool:
    return any(
        start < cut < start + len(token)
        for token in specials
        for start in range(max(0, cut - len(token) + 1), cut)
        if text.startswith(token, start)
    )


def _without_bos(found: ChatFormat, tokenizer) -> ChatFormat:
    """llama.cpp (and so Ollama) puts a BOS before the prompt where the tokenizer adds one: a template that writes
    it too would give two."""
    bos = tokenizer.bos_token
    if not bos or tokenizer("a")["input_ids"][:1] != [tokenizer.bos_token_id]:
        return found
    prefix = {role: text.removeprefix(bos) for role, text in found.prefix.items()}
    return replace(found, start=found.start.removeprefix(bos), prefix=prefix)


def _check(found: ChatFormat, render, with_system_only: bool = False) -> None:
    sample = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello! Call (541) 555-0187."},
        {"role": "user", "content": "Mail? See https://a.example/x?y=1"},
    ]
    for messages in (sample,) if with_system_only else (sample, sample[1:]):
        if found.render(messages) != render(messages):
            raise ExportError("the chat template is not role-delimited; it cannot be written as an Ollama TEMPLATE")


def go_template(found: ChatFormat) -> str:
    """The Ollama TEMPLATE: each message with its role's prefix and suffix, then the answer's opening. Ollama
    passes the system prompt as the first message; a template without a system turn keeps it for the first user
    turn."""
    turn = {role: _go(found.prefix[role]) + "{{ .Content }}" + _go(found.suffix[role]) for role in found.prefix}
    if found.system_join is None:
        branches = [
            f'{{{{ {keyword} eq .Role "{role}" }}}}{turn[role]}'
            for keyword, role in zip(("if", "else if", "else if"), ROLES)
        ]
        return (
            _go(found.start)
            + "{{- range .Messages }}"
            + "".join(branches)
            + "{{ end }}{{ end }}"
            + _go(found.generation)
        )
    user = (
        _go(found.prefix["user"])
        + "{{ if $system }}{{ $system }}"
        + _go(found.system_join)
        + '{{ $system = "" }}{{ end }}{{ .Content }}'
        + _go(found.suffix["user"])
    )
    return (
        '{{- $system := "" }}'
        + _go(found.start)
        + _range(found.start)
        + '{{ if eq .Role "system" }}{{ $system = .Content }}'
        + f'{{{{ else if eq .Role "user" }}}}{user}'
        + f'{{{{ else if eq .Role "assistant" }}}}{turn["assistant"]}'
        + "{{ end }}{{ end }}"
        + _go(found.generation)
    )


def _range(start: str) -> str:
    # "{{-" trims the whitespace before it, which must not eat the end of a literal start.
    return "{{ range .Messages }}" if start else "{{- range .Messages }}"


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
