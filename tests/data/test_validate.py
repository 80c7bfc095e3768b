"""Pair validation: empty texts, self pairs, duplicates and contradictory labels are dropped and reported."""

from tunesmith.data.pairs import LabelledText, Pair, PairSet, Triplet
from tunesmith.data.validate import validate_pairs


def test_labelled_pairs_drop_duplicates_either_way_round_and_every_copy_of_a_contradiction():
    records = [
        Pair("A cat", "a dog", 0.0),
        Pair("a  dog", "a cat", 0.0),  # the same pair written the other way round, other spacing: duplicate
        Pair("x", "y", 1.0),
        Pair("y", "x", 0.0),  # contradicts the previous one: both go
        Pair("p", "P", 1.0),  # the same text twice
        Pair(" ", "q", 1.0),
        Pair("m", "n", 1.0),
    ]
    kept, report = validate_pairs(PairSet("labelled_pairs", records))
    assert kept.records == [Pair("A cat", "a dog", 0.0), Pair("m", "n", 1.0)]
    assert report.dropped == {"empty": 1, "self_pair": 1, "duplicate": 1, "contradictory": 2}
    assert report.kept == 2 and report.total_dropped == 5
    assert report.examples["contradictory"] == ["x | y", "y | x"]
    assert report.summary() == "kept 2, dropped 1 empty, 1 self pair, 1 duplicate, 2 contradictory"


def test_scored_pairs_contradict_only_beyond_the_tolerance():
    records = [Pair("a", "b", 0.8), Pair("b", "a", 0.7), Pair("c", "d", 0.9), Pair("c", "d", 0.1)]
    kept, report = validate_pairs(PairSet("scored_pairs", records), score_tolerance=0.4)
    assert kept.records == [Pair("a", "b", 0.8), Pair("b", "a", 0.7)]  # close scores: two views, both kept
    assert report.dropped["contradictory"] == 2


def test_classes_drop_a_text_under_two_labels_and_repeated_texts():
    records = [LabelledText("vpn down", "access"), LabelledText("VPN down", "access"), LabelledText("disk", "hw")]
    records += [LabelledText("printer", "hw"), LabelledText("printer", "purchase")]
    kept, report = validate_pairs(PairSet("classes", records))
    assert kept.records == [LabelledText("vpn down", "access"), LabelledText("disk", "hw")]
    assert report.dropped == {"empty": 0, "self_pair": 0, "duplicate": 1, "contradictory": 2}


def test_triplets_drop_a_negative_equal_to_the_positive_and_repeats():
    records = [Triplet("q", "p", "n"), Triplet("q", "p", "n"), Triplet("q", "p", "P"), Triplet("q2", "p2")]
    kept, report = validate_pairs(PairSet("triplets", records))
    assert kept.records == [Triplet("q", "p", "n"), Triplet("q2", "p2")]
    assert report.dropped["duplicate"] == 1 and report.dropped["self_pair"] == 1


def test_clean_data_is_kept_whole_in_order():
    records = [Pair(f"s{i}", f"t{i}", i / 10) for i in range(10)]
    kept, report = validate_pairs(PairSet("scored_pairs", records))
    assert kept.records == records and report.summary() == "kept 10, dropped nothing"
