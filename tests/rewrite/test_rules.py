"""Rewrites of a question by rule (tunesmith.rewrite.rules): other forms, never a lost name, code or number."""

import pytest

from tunesmith.data.text import extract_facts
from tunesmith.rewrite import rule_rewrites

QUESTIONS = [
    "What is the phone number of the CS department?",
    "How many credits is MTH 261?",
    "What are the prerequisites for MTH 280?",
    "Tell me about MTH 261",
    "How do I apply if I am a transfer student?",
    "Is the CS program at MSU accredited?",
    "I designed my flyer in a browser-based design app; how should I export it?",
    "Can I pay with a card?",
    "What do letterpress invitations cost?",
    "Where do I send the 2 files for order 4417?",
]


def test_each_kind_of_question_gets_its_own_forms():
    assert rule_rewrites("What are the prerequisites for MTH 280?")[:5] == [
        "Tell me what the prerequisites for MTH 280 are.",
        "For MTH 280, what are the prerequisites?",
        "prerequisites MTH 280",
        "Could you tell me what the prerequisites for MTH 280 are?",
        "What are MTH 280's prerequisites?",
    ]
    assert "If I am a transfer student, how do I apply?" in rule_rewrites("How do I apply if I am a transfer student?")
    assert "What should I do to apply if I am a transfer student?" in rule_rewrites(
        "How do I apply if I am a transfer student?"
    )
    assert "Could you tell me whether the CS program at MSU is accredited?" in rule_rewrites(
        "Is the CS program at MSU accredited?"
    )
    assert rule_rewrites("Tell me about MTH 261")[0] == "What can you tell me about MTH 261?"
    assert "How should I export it? I designed my flyer in a browser-based design app." in rule_rewrites(QUESTIONS[6])


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_form_is_new_and_keeps_the_questions_facts(question):
    forms = rule_rewrites(question)
    assert len(forms) >= 4  # enough for K = 4 from rules alone, before the filter
    assert len(set(forms)) == len(forms) and question not in forms
    for form in forms:
        assert sorted(extract_facts(form)) == sorted(extract_facts(question)), form


def test_an_empty_question_has_no_rewrites():
    assert rule_rewrites("  ?") == []
