"""The embedding task's own parts: splits written to a run folder and read back, replay by data shape."""

from types import SimpleNamespace

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
