"""Retrieval-augmented Q&A: each question's prompt carries the passages retrieved for it, in training and scoring.

A 135M-3B model does not hold every number of a few hundred documents in its weights; it can learn to read the
right one from its prompt. Training follows RAFT (Zhang et al. 2024, "RAFT: Adapting Language Model to Domain
Specific RAG"): each training prompt holds the question's own passage (its gold) among retrieved distractors, in
random order, and a share of prompts hold distractors only, so the model learns to answer from the passage that
answers and not to copy whatever is first. Valid and test prompts hold the top k passages in ranked order, as a
served model would see them; the test split's retrieval is scored (recall@k and MRR of the gold passage) and so is
the answers' grounding (their facts found in what was retrieved).

The knowledge base is the training records, one passage per distinct answer (:mod:`tunesmith.retrieval`), plus
any ``retrieval.documents``; the index is built when the data is loaded, so the plan measures the prompts as they
will be trained, and saved into the run folder (``retrieval/``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path

from tunesmith.data import Example
from tunesmith.errors import ConfigError
from tunesmith.plan import Choice
from tunesmith.retrieval import HybridIndex, mrr, passages_from_documents, recall_at_k
from tunesmith.retrieval.passages import Passage, answer_key, answer_passages

DEFAULT_TOP_K = 3  # RAFT trains with the gold passage among a few distractors; 3 passages fit a 2k context
DEFAULT_WITHOUT_GOLD = 0.2  # RAFT's P = 0.8: 80% of training prompts hold their gold passage
INDEX_FOLDER = "retrieval"
INSTRUCTION = "Answer the question. Use the passages below when one of them holds the answer."


@dataclass
class Knowledge:
    """The built index and, per training answer, the passage that holds it (its gold)."""

    index: HybridIndex
    gold: dict[str, str]  # answer_key(answer) -> passage id

    def gold_of(self, example: Example) -> str | None:
        return self.gold.get(answer_key(example.answer))


def settings(config) -> tuple[int, float]:
    retrieval = config.retrieval
    top_k = DEFAULT_TOP_K if retrieval.top_k is None else retrieval.top_k
    return top_k, DEFAULT_WITHOUT_GOLD if retrieval.without_gold is None else retrieval.without_gold


def build_knowledge(config, train: list[Example]) -> Knowledge:
    """Index the training records' answers and the configured documents with the configured encoder."""
    from tunesmith.models.embedding import resolve_embedding_model
    from tunesmith.tasks.embedding import load_sentence_model

    if config.continue_from:
        raise ConfigError(
            "retrieval with continue_from is not supported yet: a continued run would need the parent's knowledge "
            "base and its own; train a retrieval run from the base model"
        )
    by_answer = answer_passages(train, "train")
    passages: list[Passage] = list(by_answer.values())
    passages += passages_from_documents(config.retrieval.documents, config.retrieval.passage_words)
    encoder = load_sentence_model(resolve_embedding_model(config.retrieval.encoder))
    index = HybridIndex.build(passages, encoder)
    return Knowledge(index, {key: passage.id for key, passage in by_answer.items()})


def augment(examples: list[Example], knowledge: Knowledge, config, training: bool) -> list[Example]:
    """The examples with the retrieved passages in their last question. ``training``: the gold passage among
    distractors in random order, or (a ``without_gold`` share) distractors only; else the ranked top k."""
    if not examples:
        return examples
    top_k, without_gold = settings(config)
    rng = random.Random(config.training.seed)
    by_id = {passage.id: passage for passage in knowledge.index.passages}
    found = knowledge.index.search([example.question for example in examples], top_k + (1 if training else 0))
    augmented = []
    for example, hits in zip(examples, found):
        passages = [hit.passage for hit in hits]
        gold = knowledge.gold_of(example)
        if training:
            passages = [passage for passage in passages if passage.id != gold]
            if gold is not None and rng.random() >= without_gold:
                passages = passages[: top_k - 1] + [by_id[gold]]
                rng.shuffle(passages)
            passages = passages[:top_k]
        augmented.append(with_passages(example, passages[:top_k]))
    return augmented


def with_passages(example: Example, passages: list[Passage]) -> Example:
    """``example`` whose last user message holds ``passages`` before the question (what serve sends too)."""
    messages = list(example.messages)
    last_user = max(i for i, message in enumerate(messages) if message["role"] == "user")
    messages[last_user] = {"role": "user", "content": context_prompt(messages[last_user]["content"], passages)}
    return replace(example, messages=tuple(messages))


def context_prompt(question: str, passages: list[Passage]) -> str:
    blocks = [f"[{number}] {passage.text}" for number, passage in enumerate(passages, start=1)]
    return "\n\n".join([INSTRUCTION, *blocks, f"Question: {question}"])


def retrieval_scores(knowledge: Knowledge, examples: list[Example], config) -> dict:
    """Recall@k and MRR@k of the gold passage over the questions whose answer the knowledge base holds."""
    top_k, _ = settings(config)
    known = [example for example in examples if knowledge.gold_of(example) is not None]
    if not known:
        return {"k": top_k, "questions": 0}
    hits = knowledge.index.search([example.question for example in known], top_k)
    gold = [{knowledge.gold_of(example)} for example in known]
    return {
        "k": top_k,
        "questions": len(known),
        f"recall_at_{top_k}": round(recall_at_k(hits, gold, top_k), 4),
        f"mrr_at_{top_k}": round(mrr(hits, gold), 4),
    }


def grounding(rows: list[dict], label: str = "tuned") -> dict:
    """Share of answers whose facts (numbers, prices, URLs, ...) all appear in the prompt's passages, over the
    answers that state any fact: an answer that is right for the wrong reason, or made up, is not grounded."""
    from tunesmith.metrics.facts import extract_facts

    stated = [(row["question"], extract_facts(row[label]["answer"])) for row in rows if label in row]
    stated = [(prompt, facts) for prompt, facts in stated if facts]
    if not stated:
        return {"answers_with_facts": 0}
    grounded = sum(all(fact in extract_facts(prompt) for fact in facts) for prompt, facts in stated)
    return {"answers_with_facts": len(stated), "grounded": round(grounded / len(stated), 4)}


def plan_choices(config, knowledge: Knowledge) -> dict[str, Choice]:
    """The retrieval settings as plan choices, each with its reason."""
    retrieval = config.retrieval
    top_k, without_gold = settings(config)

    def choice(value, configured, reason) -> Choice:
        return (
            Choice(value, "set in the config", "config") if configured is not None else Choice(value, reason, "plan")
        )

    documents = len(knowledge.index) - len(knowledge.gold)
    return {
        "retrieval_passages": Choice(
            len(knowledge.index),
            f"{len(knowledge.gold)} distinct training answers + {documents} document passages, hybrid index "
            f"(dense {retrieval.encoder} + BM25, fused by reciprocal rank)",
            "plan",
        ),
        "retrieval_top_k": choice(top_k, retrieval.top_k, "RAFT: the gold passage among a few distractors"),
        "retrieval_without_gold": choice(
            without_gold,
            retrieval.without_gold,
            "RAFT's P = 0.8: a fifth of training prompts hold distractors only, so the model does not copy the "
            "first passage it sees",
        ),
    }


def save_index(knowledge: Knowledge, run_path: Path) -> None:
    knowledge.index.save(Path(run_path) / INDEX_FOLDER)
