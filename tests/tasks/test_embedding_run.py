"""The embedding task's own parts: splits written to a run folder and read back, replay by data shape."""

from types import SimpleNamespace

import pytest

from tunesmith.data.pairs import LabelledText, Pair, PairSet, Triplet
from tunesmith.tasks import TaskData, get_task

TASK = get_task("embedding")


def test_splits_round_trip_through_the_run_folder(tmp_path):
    for data in (
        PairSet("scored_pairs", [Pair("a", "b", 0.5), Pair("c", "d", 1.0)]),
        PairSet("triplets", [Triplet("q", "p", "n"), Triplet("q2", "p2")]),
        PairSet("classes", [LabelledText("t", "x"), LabelledText("u", "y")]),
    ):
        TASK.write_split(tmp_path / "split.jsonl", data)
        assert TASK.read_split(tmp_path / "split.jsonl") == data
    TASK.write_split(tmp_path / "empty.jsonl", None)
    assert TASK.read_split(tmp_path / "empty.jsonl") is None and TASK.read_split(tmp_path / "none.jsonl") is None


def test_replay_takes_earlier_records_of_the_same_shape_only():
    config = SimpleNamespace(continual=SimpleNamespace(replay_ratio=None), training=SimpleNamespace(seed=0))
    new = PairSet("scored_pairs", [Pair(f"n{i}", f"m{i}", 0.5) for i in range(3)])
    earlier = PairSet("scored_pairs", [Pair(f"e{i}", f"f{i}", 1.0) for i in range(10)])
    other = PairSet("classes", [LabelledText("t", "x")])
    data, choice = TASK.add_replay(config, TaskData(new, None, None), [earlier, other, None])
    assert len(data.train) == 6 and choice.value == 3 and choice.source == "plan"
    assert set(data.train.records[3:]) <= set(earlier.records)
    assert "classes records cannot train with scored_pairs" in choice.reason


def test_the_int8_copy_is_written_as_onnx_scored_through_it_and_timed(tiny_bert_dir, tmp_path):
    """after_scoring on a CPU: model-int8/ in sentence-transformers' ONNX layout, its scores from the INT8 file."""
    from sentence_transformers import SentenceTransformer

    from tests.data.test_pairs import scored_pair_rows
    from tunesmith.metrics.embedding_report import embedding_summary
    from tunesmith.models.int8 import INT8_FILE
    from tunesmith.tasks.contract import Scores
    from tunesmith.tasks.embedding_run import score_embeddings

    class CpuPlan(dict):
        hardware = {"device": "cpu"}

    plan = CpuPlan(matryoshka_dims=[16])
    settings = SimpleNamespace(export_int8=True, retrieval_k=[1], eval_batch_size=8, pairs_per_text=2)
    config = SimpleNamespace(embedding=settings, data=SimpleNamespace(split_seed=0))
    test = PairSet("scored_pairs", [Pair(s1, s2, score / 5) for score, s1, s2 in scored_pair_rows(12, seed=3)])
    model = SentenceTransformer(str(tiny_bert_dir), device="cpu", local_files_only=True)
    scores = Scores("spearman", True, {"tuned": embedding_summary(score_embeddings(model, test, plan, config))})
    run = SimpleNamespace(path=tmp_path)

    bundle, data = SimpleNamespace(model=model), TaskData(None, None, test)
    extra = TASK.after_scoring(bundle, data, plan, config, run, scores)
    export = extra["int8_export"]
    assert (tmp_path / "model-int8" / INT8_FILE).is_file() and export["file"] == INT8_FILE
    assert (
        export["timed_texts"] == len(test.texts())
        and export["fp32_texts_per_s"] > 0
        and export["int8_texts_per_s"] > 0
    )
    assert export["speedup"] == pytest.approx(export["int8_texts_per_s"] / export["fp32_texts_per_s"], rel=0.01)
    assert list(scores.models["int8"]["by_dimension"]) == ["32", "16"]
    tuned, int8 = scores.models["tuned"]["overall"]["spearman"], scores.models["int8"]["overall"]["spearman"]
    assert export["change"] == round(int8 - tuned, 4) and abs(export["change"]) < 0.2

    settings.export_int8 = False
    assert TASK.after_scoring(bundle, data, plan, config, run, scores) == {}
