"""Retrieval-augmented Q&A (tasks.rag): RAFT training prompts, ranked test prompts, retrieval and grounding scores."""

import json

import pytest
import yaml

from tests.retrieval.encoders import HashingEncoder
from tunesmith.config import config_from_dict
from tunesmith.data import Example
from tunesmith.errors import ConfigError, ModelError
from tunesmith.retrieval import HybridIndex
from tunesmith.retrieval.index import saved_passages
from tunesmith.retrieval.passages import answer_passages
from tunesmith.tasks import rag

FACTS = [
    ("How many credit hours is CSC 450?", "CSC 450 is 4 credit hours."),
    ("Who teaches CSC 210?", "Dr. Ada Lovelace teaches CSC 210."),
    ("Where is the department office?", "The office is in Cheek Hall 207."),
    ("What is the department phone number?", "Call (417) 836-4157."),
    ("When do applications open?", "Applications open on September 1."),
    ("How much is the lab fee?", "The lab fee is $45 per semester."),
]


def example(question: str, answer: str) -> Example:
    return Example(({"role": "user", "content": question}, {"role": "assistant", "content": answer}))


def config(**retrieval):
    raw = {"data": {"train": "t.jsonl"}, "retrieval": {"enabled": True, **retrieval}, "training": {"seed": 1}}
    return config_from_dict(raw, "run.yaml")


@pytest.fixture
def knowledge():
    train = [example(q, a) for q, a in FACTS]
    by_answer = answer_passages(train, "train")
    index = HybridIndex.build(list(by_answer.values()), HashingEncoder())
    return rag.Knowledge(index, {key: passage.id for key, passage in by_answer.items()}), train


def passages_in(example: Example) -> list[str]:
    content = example.messages[-2]["content"]
    return [block for block in content.split("\n\n") if block.startswith("[")]


def test_training_prompts_hold_the_gold_among_distractors_or_distractors_only(knowledge):
    knowledge, train = knowledge
    augmented = rag.augment(train * 10, knowledge, config(top_k=3, without_gold=0.3), training=True)
    with_gold = 0
    for original, prompt in zip(train * 10, augmented):
        blocks = passages_in(prompt)
        assert len(blocks) == 3 and prompt.answer == original.answer
        assert prompt.messages[-2]["content"].endswith(f"Question: {original.question}")
        with_gold += any(original.answer in block for block in blocks)
    assert 0.55 <= with_gold / len(augmented) <= 0.85  # 70% planned, drawn per prompt
    positions = {
        next(i for i, b in enumerate(passages_in(p)) if o.answer in b)
        for o, p in zip(train * 10, augmented)
        if any(o.answer in b for b in passages_in(p))
    }
    assert len(positions) > 1  # the gold is not always in one place: position says nothing


def test_a_training_prompts_passages_never_show_its_own_question():
    """The gold passage lists every training question of its fact: a prompt shows the others and the answer, so the
    model learns to match a phrasing by meaning (as a re-worded test question needs), not to find its own words."""
    asked = [("How many credit hours is CSC 450?", FACTS[0][1]), ("What does CSC 450 count for?", FACTS[0][1])]
    train = [example(q, a) for q, a in [*asked, *FACTS[1:]]]
    by_answer = answer_passages(train, "train")
    index = HybridIndex.build(list(by_answer.values()), HashingEncoder())
    knowledge = rag.Knowledge(index, {key: passage.id for key, passage in by_answer.items()})
    for original, prompt in zip(train, rag.augment(train, knowledge, config(top_k=3, without_gold=0.0), True)):
        gold = next(block for block in passages_in(prompt) if original.answer in block)
        assert original.question not in gold
        if original.answer == FACTS[0][1]:  # the other phrasing stays beside the answer
            other = next(question for question, _ in asked if question != original.question)
            assert other in gold
    [test] = rag.augment([example("CSC 450: how many credits?", FACTS[0][1])], knowledge, config(top_k=1), False)
    assert all(question in passages_in(test)[0] for question, _ in asked)  # a served question sees the whole passage


def test_the_ranking_is_the_one_that_finds_more_validation_passages(knowledge, monkeypatch):
    knowledge, _ = knowledge
    valid = [example(f"{question} Please tell me.", answer) for question, answer in FACTS] * 2  # 12 questions
    search = knowledge.index.search

    def rigged(queries, k, mode=None):  # the fused list puts every gold passage last
        hits = search(queries, len(knowledge.index), mode="dense")
        return [(list(reversed(h)) if (mode or knowledge.index.mode) == "hybrid" else h)[:k] for h in hits]

    monkeypatch.setattr(knowledge.index, "search", rigged)
    recall = rag.choose_ranking(knowledge, valid, config(top_k=2))
    assert knowledge.index.mode == "dense" and recall["dense"] == 1.0 > recall["hybrid"]
    assert "hybrid 0, dense 1" in rag.plan_choices(config(top_k=2), knowledge)["retrieval_ranking"].reason
    assert rag.choose_ranking(knowledge, valid, config(ranking="hybrid")) is None and knowledge.index.mode == "hybrid"
    monkeypatch.setattr(knowledge.index, "search", search)  # a tie keeps hybrid (BM25 matches course codes)
    assert rag.choose_ranking(knowledge, valid, config(top_k=2)) == {"hybrid": 1.0, "dense": 1.0}
    assert knowledge.index.mode == "hybrid"
    assert rag.choose_ranking(knowledge, valid[:9], config()) is None  # too few questions to choose by


def test_test_prompts_hold_the_ranked_top_k_and_retrieval_is_scored(knowledge):
    knowledge, _ = knowledge
    test = [example("How many credit hours does CSC 450 carry?", FACTS[0][1]), example("Is there parking?", "No.")]
    [first, second] = rag.augment(test, knowledge, config(top_k=2), training=False)
    assert FACTS[0][1] in passages_in(first)[0] and len(passages_in(second)) == 2
    # "parking" has no gold passage: not counted
    scores = rag.retrieval_scores(knowledge, test, config(top_k=2))
    assert scores == {"k": 2, "ranking": "hybrid", "questions": 1, "recall_at_2": 1.0, "mrr_at_2": 1.0}


def test_an_answer_is_grounded_when_all_its_facts_are_in_the_passages():
    rows = [
        {"question": "[1] The fee is $45.\n\nQuestion: fee?", "tuned": {"answer": "It is $45."}},
        {"question": "[1] The fee is $45.\n\nQuestion: fee?", "tuned": {"answer": "It is $54."}},
        {"question": "[1] Hello.\n\nQuestion: hi?", "tuned": {"answer": "Hello there."}},  # no facts: not counted
    ]
    assert rag.grounding(rows) == {"answers_with_facts": 2, "grounded": 0.5}


def test_a_question_is_answered_by_copying_the_record_ranked_first_and_a_document_has_nothing_to_copy(knowledge):
    knowledge, train = knowledge
    knowledge.answers = {knowledge.gold_of(e): e.answer for e in train}
    question = "How many credit hours does CSC 450 carry?"
    prompt = rag.context_prompt(question, knowledge.index.passages[:2])
    assert rag.question_of(prompt) == question and rag.question_of(question) == question
    assert rag.copied_answers(knowledge.index, knowledge.answers, [question]) == [FACTS[0][1]]
    test = [example(prompt, FACTS[0][1]), example(rag.context_prompt("Where is the office?", []), FACTS[2][1])]
    rows = rag.copy_scores(knowledge, [e.question for e in test], [e.answer for e in test])
    assert [row["answer"] for row in rows] == [FACTS[0][1], FACTS[2][1]] and rows[0]["token_f1"] == 1.0
    assert rag.copied_answers(knowledge.index, {}, [question]) == [None]  # a document's passage: nothing to copy


def test_the_run_copies_only_where_copying_scores_higher_on_the_validation_questions(knowledge, monkeypatch):
    from types import SimpleNamespace

    from tunesmith.metrics import generate as generation
    from tunesmith.plan import Choice, Plan

    knowledge, train = knowledge
    knowledge.answers = {knowledge.gold_of(e): e.answer for e in train}
    valid = rag.augment([example(f"Tell me: {q}", a) for q, a in FACTS] * 2, knowledge, config(), training=False)
    plan = Plan({"max_new_tokens": Choice(16, "planned", "plan"), "bf16": Choice(False, "planned", "plan")}, None)
    tokenizer = SimpleNamespace(apply_chat_template=None)
    bundle = SimpleNamespace(model=None, tokenizer=tokenizer, system_prompt=None)
    monkeypatch.setattr(
        "tunesmith.models.chat.prompt_text", lambda tokenizer, messages, system: messages[-1]["content"]
    )

    def answers(texts):
        return lambda model, tokenizer, prompts, *args, **kwargs: [generation.Generation(t, False) for t in texts]

    monkeypatch.setattr(generation, "generate", answers(["I do not know."] * len(valid)))
    chosen, record = rag.choose_answer(bundle, valid, knowledge, plan, config(), "token_f1")
    assert chosen["retrieval_answer"] == "copy" and record["questions"] == 12
    assert record["scores"]["copy"] >= 0.8 > record["scores"]["generate"]
    monkeypatch.setattr(generation, "generate", answers([e.answer for e in valid]))
    chosen, record = rag.choose_answer(bundle, valid, knowledge, plan, config(), "token_f1")
    assert chosen["retrieval_answer"] == "generate" and "copying scores no higher" in record["summary"]
    assert rag.choose_answer(bundle, valid[:9], knowledge, plan, config(), "token_f1") == (plan, {})  # too few
    assert rag.choose_answer(bundle, valid, knowledge, plan, config(answer="copy"), "token_f1") == (plan, {})
    assert rag.plan_choices(config(answer="copy"), knowledge)["retrieval_answer"].source == "config"
    assert rag.plan_choices(config(), knowledge)["retrieval_answer"].value == "generate"


def train_rag_run(tmp_path, model_dir, **retrieval):
    """A finished retrieval run of the tiny Llama: 6 facts asked twice, a handbook passage, top 2."""
    from tests.conftest import write_jsonl
    from tunesmith.config import load_config
    from tunesmith.pipeline import train_run

    records = [{"question": q, "answer": a} for q, a in FACTS]
    write_jsonl(tmp_path / "train.jsonl", records * 2)
    write_jsonl(tmp_path / "test.jsonl", [{"question": "CSC 450 credit hours?", "answer": FACTS[0][1]}])
    (tmp_path / "handbook.md").write_text("# Parking\n\nStudents park in lot 12 with a permit.\n")
    raw = {
        "name": "rag",
        "model": {"name": str(model_dir)},
        "data": {"train": "train.jsonl", "test": "test.jsonl", "valid_fraction": 0.0},
        "retrieval": {"enabled": True, "documents": ["handbook.md"], "top_k": 2, **retrieval},
        "training": {"epochs": 1, "bf16": False, "batch_size": 4},
        "evaluation": {"max_new_tokens": 8},
        "output": {"runs_dir": str(tmp_path / "runs"), "save_checkpoints": False},
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(raw))
    return train_run(load_config(tmp_path / "run.yaml")).path


def test_a_retrieval_run_trains_on_passages_keeps_its_index_and_scores_retrieval(tmp_path, tiny_model_dir):
    from tunesmith.models.embedding import resolve_embedding_model
    from tunesmith.tasks.embedding import load_sentence_model

    run = train_rag_run(tmp_path, tiny_model_dir)
    trained = [json.loads(line) for line in (run / "data" / "train.jsonl").read_text().splitlines()]
    assert all("\n\n[2] " in record["messages"][-2]["content"] for record in trained)
    plan = json.loads((run / "plan.json").read_text())["choices"]
    assert plan["retrieval_passages"]["value"] == 7 and plan["retrieval_top_k"]["source"] == "config"
    assert plan["retrieval_without_gold"]["value"] == 0.2
    retrieval = json.loads((run / "metrics.json").read_text())["retrieval"]
    assert retrieval["questions"] == 1 and set(retrieval) >= {"recall_at_2", "mrr_at_2", "k"}
    assert plan["retrieval_encoder_epochs"]["value"] == 3 and "as_shipped" in retrieval
    shipped = load_sentence_model(resolve_embedding_model("sentence-transformers/all-MiniLM-L6-v2"))
    with pytest.raises(ModelError, match="embeds differently"):  # the index was built by the tuned encoder
        HybridIndex.load(run / "retrieval", shipped)
    index = HybridIndex.load(run / "retrieval", load_sentence_model(run / "retrieval-encoder"))
    assert len(index) == 7 and "Retrieval (2 passages a question, hybrid ranking)" in (run / "report.md").read_text()
    assert plan["retrieval_ranking"]["value"] == index.mode == "hybrid"  # too few validation questions to choose
    metrics = json.loads((run / "metrics.json").read_text())  # the copying baseline beside the model's answers
    assert metrics["retrieved"]["overall"]["n"] == 1 and plan["retrieval_answer"]["value"] == "generate"
    [row] = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert row["retrieved"]["answer"] in {a for _, a in FACTS}
    assert json.loads((run / rag.ANSWERS_FILE).read_text())[index.passages[0].id] in {a for _, a in FACTS}


def test_the_encoder_learns_each_question_against_its_facts_other_phrasings_and_answer():
    train = [example(*FACTS[0]), example("CSC 450: how many credits?", FACTS[0][1]), example(*FACTS[1])]
    assert rag.tuning_pairs(train) == [
        (FACTS[0][0], f"CSC 450: how many credits?\n{FACTS[0][1]}"),
        ("CSC 450: how many credits?", f"{FACTS[0][0]}\n{FACTS[0][1]}"),
        (FACTS[1][0], FACTS[1][1]),  # asked once: the answer alone
    ]


def test_retrieval_is_refused_for_other_tasks():
    with pytest.raises(Exception, match="retrieval"):
        config_from_dict(
            {"task": "summarization", "data": {"train": "t.csv"}, "retrieval": {"enabled": True}}, "r.yaml"
        )


def folder_bytes(folder):
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.slow  # two tiny retrieval runs with MiniLM tuned in each
def test_a_continued_retrieval_run_adds_its_facts_to_the_parents_and_leaves_the_parent_folder_as_it_was(
    tmp_path, tiny_model_dir
):
    from tests.conftest import write_jsonl
    from tunesmith.config import load_config
    from tunesmith.pipeline import train_run
    from tunesmith.tasks.embedding import load_sentence_model

    parent = train_rag_run(tmp_path, tiny_model_dir)
    before = folder_bytes(parent)
    new_facts = [
        ("What is the CSC 590 prerequisite?", "CSC 590 requires CSC 450 and instructor consent."),
        ("Where is the robotics lab?", "The robotics lab is in Temple Hall 104."),
    ]
    write_jsonl(tmp_path / "new.jsonl", [{"question": q, "answer": a} for q, a in new_facts] * 4)
    raw = yaml.safe_load((tmp_path / "run.yaml").read_text())
    raw.update(name="rag-2", continue_from=str(parent))
    raw["data"] = {"train": "new.jsonl", "test": "test.jsonl", "valid_fraction": 0.0}
    raw["retrieval"] = {"enabled": True, "top_k": 2}
    (tmp_path / "next.yaml").write_text(yaml.safe_dump(raw))
    child = train_run(load_config(tmp_path / "next.yaml")).path

    assert folder_bytes(parent) == before  # the parent's index, encoder and files untouched
    parent_ids = [passage.id for passage in saved_passages(parent / "retrieval")]
    child_index = HybridIndex.load(child / "retrieval", load_sentence_model(child / "retrieval-encoder"))
    child_ids = [passage.id for passage in child_index.passages]
    assert set(parent_ids) <= set(child_ids) and len(child_ids) == len(parent_ids) + len(new_facts)
    [hit] = child_index.search(["Which room holds the robotics lab?"], k=1)[0]
    assert "Temple Hall 104" in hit.passage.text
    [hit] = child_index.search(["CSC 450 credit hours?"], k=1)[0]  # a parent's fact, found in the child's index
    assert "4 credit hours" in hit.passage.text
    copied = json.loads((child / rag.ANSWERS_FILE).read_text())  # the parent's records can be copied too
    assert copied[hit.passage.id] == FACTS[0][1] and len(copied) == len(FACTS) + len(new_facts)


def build_tiny_cross_encoder(folder, tiny_bert_dir):
    """A cross-encoder (a BERT with a one-score head) on the tiny BERT's weights and tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    transformer = tiny_bert_dir.parent / "transformer"
    torch.manual_seed(0)
    BertForSequenceClassification.from_pretrained(transformer, num_labels=1).save_pretrained(folder)
    AutoTokenizer.from_pretrained(transformer).save_pretrained(folder)
    return folder


def test_a_reranker_orders_the_passages_and_travels_with_the_run_folder(tmp_path, tiny_bert_dir):
    from sentence_transformers import CrossEncoder

    from tunesmith.serve.load import _retriever
    from tunesmith.tasks import embedding

    folder = build_tiny_cross_encoder(tmp_path / "reranker", tiny_bert_dir)
    records = [example(question, answer) for question, answer in FACTS]
    with pytest.MonkeyPatch.context() as patch:  # the encoder: a hashing stand-in, not tuned
        patch.setattr(embedding, "load_sentence_model", lambda path: HashingEncoder())
        patch.setattr("tunesmith.models.embedding.resolve_embedding_model", lambda name: name)
        settings = config(reranker=str(folder), rerank_depth=4, tune_encoder=False)
        knowledge = rag.build_knowledge(settings, records)
    index = knowledge.index
    assert index.reranker is not None and index.record["reranker"] == {"name": str(folder), "depth": 4}
    assert rag.plan_choices(settings, knowledge)["retrieval_reranker"].source == "config"
    questions = ["credit hours of CSC 450", "the lab fee"]
    hits = index.search(questions, 2)
    model = CrossEncoder(str(folder), device="cpu")
    for question, found in zip(questions, hits):
        scores = [hit.score for hit in found]
        assert scores == sorted(scores, reverse=True)
        assert scores[0] == pytest.approx(float(model.predict([(question, found[0].passage.text)])[0]), abs=1e-5)

    run = tmp_path / "run"
    run.mkdir()
    rag.save_index(knowledge, run)
    assert (run / rag.RERANKER_FOLDER / "config.json").is_file()
    folder.rename(tmp_path / "moved")  # serving reads the run's copy, not the configured folder

    class Run:  # what serve's loader reads of a run folder
        path, config, plan = run, {"retrieval": {"encoder": "unused"}}, {"choices": {}}

    with pytest.MonkeyPatch.context() as patch:  # the index's encoder as built (no model to load)
        patch.setattr(embedding, "load_sentence_model", lambda path: HashingEncoder())
        patch.setattr("tunesmith.models.embedding.resolve_embedding_model", lambda name: name)
        served = _retriever(Run).index
    assert served.record["reranker"] == {"name": str(folder), "depth": 4} and served.reranker is not None
    assert [[hit.passage.id for hit in found] for found in served.search(questions, 2)] == [
        [hit.passage.id for hit in found] for found in hits
    ]


def test_rerank_depth_without_a_reranker_is_refused():
    with pytest.raises(ConfigError, match="rerank_depth applies only with a reranker"):
        config(rerank_depth=10)
