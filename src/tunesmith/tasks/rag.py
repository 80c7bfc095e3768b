"""Retrieval-augmented Q&A: each question's prompt carries the passages retrieved for it, in training and scoring.

A 135M-3B model does not hold every number of a few hundred documents in its weights; it can learn to read the
right one from its prompt. Training follows RAFT (Zhang et al. 2024, "RAFT: Adapting Language Model to Domain
Specific RAG"): each training prompt holds the question's own passage (its gold) among retrieved distractors, in
random order, and a share of prompts hold distractors only, so the model learns to answer from the passage that
answers and not to copy whatever is first. Valid and test prompts hold the top k passages in ranked order, as a
served model would see them; the test split's retrieval is scored (recall@k and MRR of the gold passage) and so is
the answers' grounding (their facts found in what was retrieved).

The knowledge base is the training records, one passage per distinct answer (:mod:`tunesmith.retrieval`), plus
any ``retrieval.documents``. Before indexing, the encoder is tuned on the training questions against their
passages (each question against its fact's other phrasings and answer, in-batch negatives: sentence-transformers'
MultipleNegativesRankingLoss through tunesmith's embedding trainer), so the retriever and the generator learn from
the same data; valid and test questions are never used. The index is built when the data is loaded, so the plan
measures the prompts as they will be trained, and saved with the tuned encoder into the run folder.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from tunesmith.data import Example
from tunesmith.plan import Choice
from tunesmith.retrieval import HybridIndex, mrr, passages_from_documents, recall_at_k
from tunesmith.retrieval.index import RERANK_DEPTH
from tunesmith.retrieval.passages import Passage, answer_key, answer_passages

DEFAULT_TOP_K = 3  # RAFT trains with the gold passage among a few distractors; 3 passages fit a 2k context
DEFAULT_WITHOUT_GOLD = 0.2  # RAFT's P = 0.8: 80% of training prompts hold their gold passage
INDEX_FOLDER = "retrieval"
ENCODER_FOLDER = "retrieval-encoder"
RERANKER_FOLDER = "retrieval-reranker"  # a copy of the reranker, so that serving needs no download
DEFAULT_ENCODER_EPOCHS = 3
ENCODER_RATE = 2e-5  # the usual rate for fine-tuning a pretrained sentence encoder with in-batch negatives
ENCODER_BATCH = 32
MIN_TUNING_QUESTIONS = 8  # fewer: in-batch negatives are too few to teach anything; the encoder stays as shipped
INSTRUCTION = "Answer the question. Use the passages below when one of them holds the answer."
QUESTION_LABEL = "Question: "
ANSWERS_FILE = "retrieval-answers.json"  # passage id -> the training answer it holds (a run that answers by copy)
MIN_ANSWER_QUESTIONS = 10  # validation questions with a known passage needed to choose how to answer


@dataclass
class Knowledge:
    """The built index and, per training answer, the passage that holds it (its gold)."""

    index: HybridIndex
    gold: dict[str, str]  # answer_key(answer) -> passage id
    encoder_epochs: int = 0  # epochs the encoder was tuned by this run (0: as it started)
    shipped: HybridIndex | None = None  # the same passages indexed by the encoder as it started, to show the gain
    inherited_encoder: bool = False  # it started from the encoder the parent run tuned
    ranking_recall: dict[str, float] | None = None  # recall@k per ranking on the validation questions
    answers: dict[str, str] = field(default_factory=dict)  # passage id -> the answer of the training record it is

    def gold_of(self, example: Example) -> str | None:
        return self.gold.get(answer_key(example.answer))


def settings(config) -> tuple[int, float]:
    retrieval = config.retrieval
    top_k = DEFAULT_TOP_K if retrieval.top_k is None else retrieval.top_k
    return top_k, DEFAULT_WITHOUT_GOLD if retrieval.without_gold is None else retrieval.without_gold


def build_knowledge(config, train: list[Example], valid: list[Example] | None = None) -> Knowledge:
    """Index the training records' answers and the configured documents with the configured encoder, tuned on
    the training questions first (``retrieval.tune_encoder``), ranked as :func:`choose_ranking` finds best on the
    ``valid`` questions. A continued run (``continue_from``) starts from its parent's knowledge: the parent's
    passages stay in the new index (the parent's folder is only read) and the encoder the parent tuned is tuned
    further on the new questions."""
    knowledge = _index_knowledge(config, train)
    choose_ranking(knowledge, valid or [], config)
    if knowledge.shipped is not None:
        knowledge.shipped.use_mode(knowledge.index.mode)
    return knowledge


# Fewer validation questions with a known passage than this: too few to choose a ranking by; hybrid is kept.
MIN_RANKING_QUESTIONS = 10


def choose_ranking(knowledge: Knowledge, valid: list[Example], config) -> dict[str, float] | None:
    """Set the index's ranking: the configured one, else dense alone where it finds the gold passage of more
    validation questions within the top k than the hybrid does (ties keep hybrid, whose BM25 side matches course
    codes and product names). Questions asked in new words share few words with their passage, and on the demo
    BM25's list pulled the fused ranking below dense alone (recall@3 0.75 vs 0.85 on its validation questions).
    Returns (and keeps in ``knowledge``) recall@k per ranking, or None when nothing was measured."""
    configured = config.retrieval.ranking
    questions, gold = _with_gold(knowledge, valid)
    knowledge.ranking_recall = None
    if configured is not None or len(questions) < MIN_RANKING_QUESTIONS:
        knowledge.index.use_mode(configured or "hybrid")
        return None
    top_k, _ = settings(config)
    recall = {}
    for mode in ("hybrid", "dense"):
        hits = knowledge.index.search(questions, top_k, mode=mode)
        recall[mode] = round(recall_at_k(hits, gold, top_k), 4)
    knowledge.index.use_mode("dense" if recall["dense"] > recall["hybrid"] else "hybrid")
    knowledge.ranking_recall = recall
    return recall


def _index_knowledge(config, train: list[Example]) -> Knowledge:
    from tunesmith.models.embedding import resolve_embedding_model
    from tunesmith.tasks.embedding import load_sentence_model

    store = dense_store(config)  # first: a Qdrant server that cannot take the index fails before any work
    inherited, parent_encoder, inherited_answers = parent_knowledge(config)
    by_answer = answer_passages(train, "train")
    passages = [*inherited, *by_answer.values()]
    passages += passages_from_documents(config.retrieval.documents, config.retrieval.passage_words)
    passages = list({passage.id: passage for passage in passages}.values())  # a text already there: kept once
    encoder = load_sentence_model(parent_encoder or resolve_embedding_model(config.retrieval.encoder))
    gold = {key: passage.id for key, passage in by_answer.items()}
    answers = {**inherited_answers, **record_answers(train, by_answer)}
    epochs, from_parent, shipped = encoder_epochs(config, train), parent_encoder is not None, None
    if epochs:
        shipped = HybridIndex.build(passages, encoder)  # faiss whatever the store: it is only scored, never saved
        tune_encoder(encoder, tuning_pairs(train), epochs, config.training.seed)
    index = HybridIndex.build(passages, encoder, store=store)
    attach_reranker(index, config.retrieval.reranker, config.retrieval.rerank_depth)
    return Knowledge(index, gold, epochs, shipped, from_parent, answers=answers)


def attach_reranker(index: HybridIndex, name: str | None, depth: int | None, saved: Path | None = None) -> None:
    """The reranker ``name`` (a CrossEncoder's hub name or folder; a run's copy in ``saved`` where that exists)
    re-ordering ``index``'s top ``depth`` (default 20) for every search; nothing when ``name`` is None. On the CPU:
    it reads at most ``depth`` short pairs a question."""
    if not name:
        return
    from sentence_transformers import CrossEncoder

    from tunesmith.models.resolve import resolve_model

    path = saved if saved is not None and saved.is_dir() else resolve_model(name)
    index.use_reranker(CrossEncoder(str(path), device="cpu", local_files_only=True), name, depth or RERANK_DEPTH)


def record_answers(examples: list[Example], by_answer: dict[str, Passage]) -> dict[str, str]:
    """Passage id -> the answer that :func:`answer_passages` ended the passage with (the first record's)."""
    return {by_answer[answer_key(example.answer)].id: example.answer.strip() for example in reversed(examples)}


def parent_knowledge(config) -> tuple[list[Passage], Path | None, dict[str, str]]:
    """What a continued run's knowledge base starts from: the passages of its parent's index (the parent's records
    and documents), or for a parent trained without retrieval one passage per answer of its training split; the
    encoder the parent tuned (None: the configured one as shipped); and the answers of the parent's record
    passages (what copying sends). ``([], None, {})`` for a run from a base model."""
    import json

    if not config.continue_from:
        return [], None, {}
    from tunesmith.data.load import load_examples
    from tunesmith.retrieval.index import saved_passages
    from tunesmith.runs.names import find_run

    parent = find_run(config.continue_from, config.output.runs_dir)[0]
    if (parent / INDEX_FOLDER / "index.json").is_file():
        passages = saved_passages(parent / INDEX_FOLDER)
        saved = parent / ANSWERS_FILE  # runs before copying existed have none: their records are not copied
        answers = json.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else {}
    else:
        records = load_examples(parent / "data" / "train.jsonl", "messages")
        by_answer = answer_passages(records, f"{parent.name} train")
        passages = list(by_answer.values())
        answers = record_answers(records, by_answer)
    encoder = parent / ENCODER_FOLDER
    return passages, encoder if encoder.is_dir() else None, answers


def dense_store(config):
    """``retrieval.store``'s home for the dense vectors: None for faiss, else an empty Qdrant store (in memory
    until the index is saved into the run folder, which publishes it to ``qdrant_url`` or Qdrant's local mode)."""
    retrieval = config.retrieval
    if retrieval.store == "faiss":
        return None
    from tunesmith.retrieval.qdrant import QdrantStore

    # a new name for every run: a server's collection may be read by an earlier run that is still served
    collection = retrieval.qdrant_collection or f"tunesmith-{config.name}-{uuid.uuid4().hex[:8]}"
    return QdrantStore.for_build(collection, retrieval.qdrant_url, retrieval.qdrant_api_key_env)


def encoder_epochs(config, train: list[Example]) -> int:
    retrieval = config.retrieval
    if not retrieval.tune_encoder or len(train) < MIN_TUNING_QUESTIONS:
        return 0
    return DEFAULT_ENCODER_EPOCHS if retrieval.encoder_epochs is None else retrieval.encoder_epochs


def tuning_pairs(train: list[Example]) -> list[tuple[str, str]]:
    """(question, its fact's passage without that question): the other phrasings and the answer, so a question
    is matched by meaning, as a re-worded one must be, not found by its own words."""
    phrasings: dict[str, list[str]] = {}
    for example in train:
        phrasings.setdefault(answer_key(example.answer), []).append(example.question.strip())
    pairs = []
    for example in train:
        others = [q for q in dict.fromkeys(phrasings[answer_key(example.answer)]) if q != example.question.strip()]
        pairs.append((example.question.strip(), "\n".join([*others, example.answer.strip()])))
    return pairs


def tune_encoder(encoder, pairs: list[tuple[str, str]], epochs: int, seed: int) -> None:
    """Fine-tune ``encoder`` in place on the pairs with MultipleNegativesRankingLoss (in-batch negatives)."""
    import math
    import tempfile

    from tunesmith.tasks.embedding import make_losses, to_dataset
    from tunesmith.training.embedding import train_embedding

    batch = min(ENCODER_BATCH, len(pairs))
    warmup = round(0.1 * epochs * math.ceil(len(pairs) / batch))
    with tempfile.TemporaryDirectory(prefix="tunesmith-encoder-") as scratch:
        train_embedding(
            encoder,
            {"mnrl": to_dataset(pairs)},
            make_losses(encoder, ["mnrl"], None),
            epochs=epochs,
            batch_size=batch,
            learning_rate=ENCODER_RATE,
            schedule={"name": "linear", "warmup": warmup, "min_ratio": 0.0},
            output_dir=Path(scratch),
            log_file=Path(scratch) / "train_log.jsonl",
            seed=seed,
        )
    encoder.eval()


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
            passages = [without_question(passage, example.question) for passage in passages]
        augmented.append(with_passages(example, passages[:top_k]))
    return augmented


def without_question(passage: Passage, question: str) -> Passage:
    """``passage`` less the lines that are ``question`` itself. A training record's gold passage lists the questions
    asked of its fact: left in, the model learns to find its own words and copy the answer below them, which a
    question asked in new words never offers (measured on the demo: test fact recall 0.28 with retrieval, the same as
    closed-book); without them it learns to match the other phrasings by meaning, as at test time."""
    lines = passage.text.split("\n")
    kept = [line for line in lines if line.strip() != question.strip()]
    return passage if len(kept) in (0, len(lines)) else replace(passage, text="\n".join(kept))


def with_passages(example: Example, passages: list[Passage]) -> Example:
    """``example`` whose last user message holds ``passages`` before the question."""
    return replace(example, messages=tuple(messages_with_passages(example.messages, passages)))


def messages_with_passages(messages, passages: list[Passage]) -> list[dict]:
    """The chat ``messages`` with ``passages`` put before the last user question, as training and serve both do."""
    messages = list(messages)
    last_user = max(i for i, message in enumerate(messages) if message["role"] == "user")
    question = messages[last_user]["content"]
    messages[last_user] = {**messages[last_user], "content": context_prompt(question, passages)}
    return messages


def context_prompt(question: str, passages: list[Passage]) -> str:
    blocks = [f"[{number}] {passage.text}" for number, passage in enumerate(passages, start=1)]
    return "\n\n".join([INSTRUCTION, *blocks, f"{QUESTION_LABEL}{question}"])


def question_of(prompt: str) -> str:
    """The question a :func:`context_prompt` was made for (a prompt without passages is its own question)."""
    if not prompt.startswith(INSTRUCTION):
        return prompt
    return prompt.rsplit("\n\n" + QUESTION_LABEL, 1)[-1]


def copied_answers(index: HybridIndex, answers: dict[str, str], questions: list[str]) -> list[str | None]:
    """For each question, the answer of the training record ranked first for it (None: the first passage is a
    document's, which holds no answer to copy). The knowledge base of a Q&A run is its training records; a question
    asked in new words is often best answered by the record it matches, word for word."""
    if not questions:
        return []
    return [answers.get(hits[0].passage.id) if hits else None for hits in index.search(questions, 1)]


def copy_scores(knowledge: Knowledge, prompts: list[str], references: list[str]) -> list[dict]:
    """Per question (its prompt holding passages), the copied answer (``""`` where there is none) and its scores
    against the reference."""
    from tunesmith.metrics.text import score_answer

    copies = copied_answers(knowledge.index, knowledge.answers, [question_of(prompt) for prompt in prompts])
    return [
        {"answer": copy or "", "copied": copy is not None, **score_answer(copy or "", reference)}
        for copy, reference in zip(copies, references)
    ]


def choose_answer(bundle, valid: list[Example], knowledge: Knowledge, plan, config, metric: str) -> tuple:
    """How the run answers (``retrieval.answer``): ``generate`` (the trained model reads the passages) or ``copy``
    (the answer of the training record ranked first, the model only where a document comes first). ``auto``
    scores both on the validation questions whose passage the knowledge base holds and copies only where that
    scores higher on ``metric``; with fewer than :data:`MIN_ANSWER_QUESTIONS` of them it generates. Returns the
    plan with the ``retrieval_answer`` choice, and the search's record (``{}`` when nothing was scored)."""
    from tunesmith.metrics.generate import generate
    from tunesmith.metrics.text import score_answer
    from tunesmith.models.chat import prompt_text
    from tunesmith.plan import generation_batch, generation_settings

    known = [example for example in valid or [] if knowledge.gold_of(example) is not None]
    if config.retrieval.answer != "auto" or len(known) < MIN_ANSWER_QUESTIONS:
        return plan, {}  # the plan's choice stands (plan_choices: as configured, or generate)
    prompts = [prompt_text(bundle.tokenizer, example.prompt, bundle.system_prompt) for example in known]
    outputs = generate(
        bundle.model,
        bundle.tokenizer,
        prompts,
        plan["max_new_tokens"],
        generation_batch(plan, config, plan.get("num_beams", 1)),
        bool(plan["bf16"]),
        description="choosing how to answer",
        settings=generation_settings(plan),
    )
    generated = [score_answer(output.text, example.answer)[metric] for output, example in zip(outputs, known)]
    copies = copy_scores(knowledge, [example.question for example in known], [example.answer for example in known])
    copied = [row[metric] for row in copies]
    scores = {"generate": round(sum(generated) / len(known), 4), "copy": round(sum(copied) / len(known), 4)}
    chosen = "copy" if scores["copy"] > scores["generate"] else "generate"
    summary = (
        f"{metric} on {len(known)} validation questions: the trained model's answers {scores['generate']:.4f}, "
        f"the first retrieved record's answer {scores['copy']:.4f}; {chosen} "
        + ("scores higher" if chosen == "copy" else "kept (copying scores no higher)")
    )
    choices = {**plan.choices, "retrieval_answer": Choice(chosen, summary, "plan")}
    record = {"metric": metric, "questions": len(known), "scores": scores, "chosen": chosen, "summary": summary}
    return replace(plan, choices=choices), record


def retrieval_scores(knowledge: Knowledge, examples: list[Example], config) -> dict:
    """Recall@k and MRR@k of the gold passage over the questions whose answer the knowledge base holds; with a
    tuned encoder, the same for the encoder as shipped (``as_shipped``)."""
    top_k, _ = settings(config)
    questions, gold = _with_gold(knowledge, examples)
    if not questions:
        return {"k": top_k, "questions": 0}

    def scores(index: HybridIndex) -> dict:
        hits = index.search(questions, top_k)
        return {
            f"recall_at_{top_k}": round(recall_at_k(hits, gold, top_k), 4),
            f"mrr_at_{top_k}": round(mrr(hits, gold), 4),
        }

    result = {"k": top_k, "ranking": knowledge.index.mode, "questions": len(questions), **scores(knowledge.index)}
    return result | ({"as_shipped": scores(knowledge.shipped)} if knowledge.shipped is not None else {})


def _with_gold(knowledge: Knowledge, examples: list[Example]) -> tuple[list[str], list[set[str]]]:
    """The questions whose answer the knowledge base holds, and each one's gold passage id (as a set)."""
    known = [(example.question, knowledge.gold_of(example)) for example in examples]
    known = [(question, gold) for question, gold in known if gold is not None]
    return [question for question, _ in known], [{gold} for _, gold in known]


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
            f"{len(knowledge.gold)} distinct training answers + {documents} document passages, indexed dense "
            f"({retrieval.encoder}{' in Qdrant' if retrieval.store == 'qdrant' else ''}) and lexical (BM25)",
            "plan",
        ),
        "retrieval_encoder_epochs": choice(
            knowledge.encoder_epochs,
            retrieval.encoder_epochs if retrieval.tune_encoder else False,
            f"the encoder learns this data's questions against their passages (in-batch negatives, lr "
            f"{ENCODER_RATE:g})"
            if knowledge.encoder_epochs
            else f"fewer than {MIN_TUNING_QUESTIONS} training questions",
        ),
        "retrieval_top_k": choice(top_k, retrieval.top_k, "RAFT: the gold passage among a few distractors"),
        "retrieval_ranking": choice(knowledge.index.mode, retrieval.ranking, _ranking_reason(knowledge, top_k)),
        "retrieval_reranker": choice(
            retrieval.reranker or "none",
            retrieval.reranker,
            "the ranking as it is: no reranker ships offline to measure one against it (set a CrossEncoder to "
            f"re-order the top {RERANK_DEPTH})",
        ),
        "retrieval_answer": choice(
            "generate" if retrieval.answer == "auto" else retrieval.answer,
            None if retrieval.answer == "auto" else retrieval.answer,
            f"the trained model's answers, unless copying the first retrieved record's answer scores higher on at "
            f"least {MIN_ANSWER_QUESTIONS} validation questions whose passage is indexed (scored after training)",
        ),
        "retrieval_without_gold": choice(
            without_gold,
            retrieval.without_gold,
            "RAFT's P = 0.8: a fifth of training prompts hold distractors only, so the model does not copy the "
            "first passage it sees",
        ),
    }


def _ranking_reason(knowledge: Knowledge, top_k: int) -> str:
    recall = knowledge.ranking_recall
    if recall is None:
        return f"dense + BM25 fused (fewer than {MIN_RANKING_QUESTIONS} validation questions to compare rankings)"
    measured = f"recall@{top_k} on the validation questions: hybrid {recall['hybrid']:g}, dense {recall['dense']:g}"
    kept = "dense alone finds more" if knowledge.index.mode == "dense" else "dense alone finds no more"
    return f"{measured}; {kept}"


def save_index(knowledge: Knowledge, run_path: Path) -> None:
    """The index (``retrieval/``) and, when tuned, the encoder that built it (``retrieval-encoder/``)."""
    from tunesmith.atomic import save_folder, write_json

    if knowledge.encoder_epochs or knowledge.inherited_encoder:  # not the configured encoder as shipped
        save_folder(Path(run_path) / ENCODER_FOLDER, lambda folder: knowledge.index.encoder.save(str(folder)))
    if knowledge.index.reranker is not None:
        save_folder(Path(run_path) / RERANKER_FOLDER, lambda folder: knowledge.index.reranker.save(str(folder)))
    knowledge.index.save(Path(run_path) / INDEX_FOLDER)
    write_json(Path(run_path) / ANSWERS_FILE, knowledge.answers)
