"""Closed-book facts in many phrasings: K rewrites of every training question per fact, from rules, a local model or
an OpenAI-compatible endpoint, filtered (new, free of the answer's facts, complete, close in meaning) and cached."""

from tunesmith.rewrite.generators import EndpointGenerator, ModelGenerator, RulesGenerator, make_generator
from tunesmith.rewrite.rules import rule_rewrites
from tunesmith.rewrite.select import DEFAULT_MIN_SIMILARITY, add_rewrites, describe

__all__ = [
    "DEFAULT_MIN_SIMILARITY",
    "EndpointGenerator",
    "ModelGenerator",
    "RulesGenerator",
    "add_rewrites",
    "describe",
    "make_generator",
    "rule_rewrites",
]
