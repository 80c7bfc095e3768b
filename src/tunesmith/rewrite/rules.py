"""New phrasings of an English question by rule, with no model: the generator that always works offline.

Each rule turns the question into one other form, or passes: an imperative or polite request with the question
embedded ("Could you tell me what the phone number of X is?"), the entity first ("For MTH 280, what are the
prerequisites?"), the clause order swapped ("If I am a transfer student, how do I apply?"), another question word
("What are the steps to apply?" for "How do I apply?"), a search-box query of its content words ("prerequisites
mth 280"), and last, the same question with a conversational opener. Rules that reorder words never drop one, so
the question's names, codes and numbers stay in every form (the filter checks it anyway). The order of
:func:`rule_rewrites` takes one form of each kind in turn and the openers last, so K rewrites are as varied as the
question allows.

No library does this for questions (nlpaug and TextAttack edit words, which the copies of ``augment --ops`` do
already); the rules are a handful of patterns over the question's first words.
"""

from __future__ import annotations

import re

_WH = r"what|who|whom|where|when|which|why|how(?:\s+(?:many|much|long|often|far|soon|old|big))?"
_AUX = r"is|are|was|were|do|does|did|can|could|should|will|would"
_WH_QUESTION = re.compile(rf"^(?P<wh>(?:{_WH})(?:\s+[\w-]+){{0,3}}?)\s+(?P<aux>{_AUX})\s+(?P<rest>.+)$", re.IGNORECASE)
_YES_NO = re.compile(rf"^(?P<aux>{_AUX})\s+(?P<rest>.+)$", re.IGNORECASE)
_REQUEST = re.compile(
    r"^(?:please\s+)?(?:tell me about|explain|describe|give me (?:an overview of|details on))\s+(?P<topic>.+)$", re.I
)
_PRONOUN = r"I|you|we|they|he|she|it|there|this|that"
_PRONOUN_FIRST = re.compile(rf"^(?P<subject>{_PRONOUN})\s+(?P<rest>.+)$", re.IGNORECASE)
_HOW_TO = re.compile(r"^how\s+(?:do|can|should|would)\s+(?:I|we|you)\s+(?P<action>.+)$", re.IGNORECASE)
_PREPOSITION = re.compile(r"^(?P<head>.+?)\s+(?P<prep>for|of|at|about|in|on|with)\s+(?P<entity>.+)$", re.IGNORECASE)
_CLAUSE_AFTER = re.compile(r"^(?P<main>.+?)\s+(?P<clause>(?:if|when|before|after|while|since|once)\s.+)$", re.I)
_CLAUSE_FIRST = re.compile(r"^(?P<clause>(?:if|when|before|after|while|since|once)\s[^,]+),\s*(?P<main>.+)$", re.I)
_CONTEXT_FIRST = re.compile(rf"^(?P<context>[^;?]+)[;,]\s*(?P<question>(?:{_WH}|{_AUX})\s.+)$", re.IGNORECASE)
_PREDICATE = re.compile(r"(?:ed|able|ible|ful|ive|ous|open|closed|free|available|required)$", re.IGNORECASE)
_STOPWORDS = frozenset(
    "a an the is are was were be been do does did can could should will would i you we they he she it my your our "
    "me us what who whom where when which why how there this that to of for at in on with about and or if please "
    "tell know any some many much".split()
)
_OPENERS = ("Quick question: {q}", "Hi! {q}", "{q} Thanks!")


def rule_rewrites(question: str) -> list[str]:
    """Other phrasings of ``question`` by rule, most different first, without repeats or the question itself."""
    text = " ".join(question.split())
    core = text.rstrip(" ?.!")
    if not core:
        return []
    families = [_requests(core), _entity_first(core), _clause_order(core), _question_words(core), [_keywords(core)]]
    found = [form for rank in range(max(map(len, families))) for forms in families for form in forms[rank : rank + 1]]
    found += [opener.format(q=_sentence(core, _ending(text, core))) for opener in _OPENERS]
    seen = {_plain(text)}
    unique = []
    for rewrite in found:
        if rewrite and _plain(rewrite) not in seen:
            seen.add(_plain(rewrite))
            unique.append(rewrite)
    return unique


def _requests(core: str) -> list[str]:
    """Imperative and polite forms, with the question embedded in statement order."""
    request = _REQUEST.match(core)
    if request:
        topic = request["topic"]
        return [
            f"What can you tell me about {topic}?",
            f"I would like some information on {topic}.",
            f"What is {topic}?",
        ]
    embedded = _embedded(core)
    if embedded is None:
        return []
    return [
        f"Tell me {embedded}.",
        f"Could you tell me {embedded}?",
        f"I would like to know {embedded}.",
        f"Do you know {embedded}?",
    ]


def _embedded(core: str) -> str | None:
    """The question as a clause ("what the fee is"), when its subject is plain enough to move; else None."""
    wh = _WH_QUESTION.match(core)
    if wh:
        word, aux, rest = wh["wh"].lower(), wh["aux"].lower(), wh["rest"]
        if aux in ("is", "are", "was", "were"):
            return f"{word} {rest} {aux}"
        pronoun = _PRONOUN_FIRST.match(rest)
        if aux == "do" and pronoun and word in ("how", "where") and pronoun["subject"].lower() in ("i", "we", "you"):
            return f"{word} to {pronoun['rest']}"  # "how do I apply" -> "how to apply"
        if aux == "do" and pronoun:
            return f"{word} {_lower_pronoun(pronoun['subject'])} {pronoun['rest']}"
        if aux in ("can", "could", "should", "will", "would") and pronoun:
            return f"{word} {_lower_pronoun(pronoun['subject'])} {aux} {pronoun['rest']}"
        return None
    yes_no = _YES_NO.match(core)
    if yes_no:
        aux, pronoun = yes_no["aux"].lower(), _PRONOUN_FIRST.match(yes_no["rest"])
        if pronoun and aux in ("is", "are", "was", "were", "can", "could", "should", "will", "would"):
            return f"whether {_lower_pronoun(pronoun['subject'])} {aux} {pronoun['rest']}"
        if pronoun and aux == "do":
            return f"whether {_lower_pronoun(pronoun['subject'])} {pronoun['rest']}"
        words = yes_no["rest"].split()
        if aux in ("is", "are") and len(words) >= 3 and _PREDICATE.search(words[-1]):
            return (
                f"whether {' '.join(words[:-1])} {aux} {words[-1]}"  # "is X accredited" -> "whether X is accredited"
            )
    return None


def _entity_first(core: str) -> list[str]:
    """ "What are the prerequisites for MTH 280?" -> "For MTH 280, what are the prerequisites?" and the
    possessive "What are MTH 280's prerequisites?" (a short entity only)."""
    wh = _WH_QUESTION.match(core)
    if not wh or wh["aux"].lower() not in ("is", "are", "was", "were"):
        return []
    split = _PREPOSITION.match(wh["rest"])
    if not split or len(split["entity"].split()) > 6:
        return []
    prep = split["prep"].lower()
    lead = "For" if prep in ("of", "for") else prep.capitalize()
    head = f"{wh['wh'].lower()} {wh['aux'].lower()} {split['head']}"
    forms = [f"{lead} {split['entity']}, {head}?"]
    attribute = re.sub(r"^the\s+", "", split["head"], flags=re.IGNORECASE)
    plain_entity = not _PREPOSITION.match(split["entity"]) and len(split["entity"].split()) <= 4
    if prep in ("of", "for") and attribute != split["head"] and plain_entity:
        forms.append(f"{wh['wh'].capitalize()} {wh['aux'].lower()} {split['entity']}'s {attribute}?")
    return forms


def _clause_order(core: str) -> list[str]:
    """A condition or time clause moved to the other end, and context before a question moved after it."""
    first = _CLAUSE_FIRST.match(core)
    if first:
        return [f"{_capital(first['main'])} {_lower_first(first['clause'])}?"]
    context = _CONTEXT_FIRST.match(core)
    if context:
        return [f"{_capital(context['question'])}? {_capital(context['context'])}."]
    after = _CLAUSE_AFTER.match(core)
    if after and len(after["main"].split()) >= 3:
        return [f"{_capital(after['clause'])}, {_lower_first(after['main'])}?"]
    return []


def _question_words(core: str) -> list[str]:
    how = _HOW_TO.match(core)
    if how:
        action = how["action"]
        return [f"What are the steps to {action}?", f"What should I do to {action}?"]
    many = re.match(r"^how many\s+(?P<thing>\S+)\s+(?P<aux>is|are|does|do)\s+(?P<rest>.+)$", core, re.IGNORECASE)
    if many and many["aux"].lower() in ("is", "are"):
        return [f"What is the number of {many['thing']} for {many['rest']}?"]
    return []


def _keywords(core: str) -> str:
    """A search-box query: the content words, lower-cased, codes and numbers kept."""
    words = [word.strip(",;:") for word in core.split()]
    kept = [word for word in words if word and (word.lower() not in _STOPWORDS or any(c.isdigit() for c in word))]
    return " ".join(word if any(c.isdigit() or c.isupper() for c in word[1:]) else word.lower() for word in kept)


def _ending(text: str, core: str) -> str:
    asks = text.endswith("?") or _WH_QUESTION.match(core) or _YES_NO.match(core)
    return "?" if asks else "."


def _sentence(core: str, end: str) -> str:
    return _capital(core) + end


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    """The first word lower-cased unless it is a name or code (an acronym or "I")."""
    first, _, rest = text.partition(" ")
    if first == "I" or (len(first) > 1 and first.isupper()):
        return text
    return first[:1].lower() + first[1:] + (" " + rest if rest else "")


def _lower_pronoun(word: str) -> str:
    return word if word == "I" else word.lower()


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())
