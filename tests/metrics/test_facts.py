import pytest

from tunesmith.metrics import extract_facts, fact_recall

REFERENCE = (
    "Apply at https://www.missouristate.edu/cs/apply.htm by March 15, 2027. "
    "Questions: ComputerScience@MissouriState.edu or (417) 836-4157. "
    "The fee is $45.50 and the program takes 120 credit hours."
)


def test_extracts_each_kind_once():
    kinds = [kind for kind, _ in extract_facts(REFERENCE)]
    assert kinds == ["url", "email", "phone", "price", "date", "number"]
    assert ("url", "https://www.missouristate.edu/cs/apply.htm") in extract_facts(REFERENCE)  # trailing dot dropped
    assert ("number", "120") in extract_facts(REFERENCE)


def test_all_facts_intact_scores_one():
    answer = (
        "Go to https://www.missouristate.edu/cs/apply.htm before March 15, 2027; fee $45.50, 120 credit hours. "
        "Call 417-836-4157 or write to computerscience@missouristate.edu."
    )
    assert fact_recall(answer, REFERENCE) == 1.0


def test_truncated_url_and_wrong_digit_count_as_missed():
    answer = (
        "Go to https://www.missouristate.edu/cs/app before March 15, 2027; fee $45.50, 120 credit hours. "
        "Call 417-836-4158 or write to computerscience@missouristate.edu."
    )
    assert fact_recall(answer, REFERENCE) == pytest.approx(4 / 6)


def test_numbers_inside_other_facts_are_not_counted_twice():
    assert extract_facts("call (417) 836-4157") == [("phone", "4178364157")]
    assert fact_recall("call 417", "call (417) 836-4157") == 0.0


def test_reference_without_facts_gives_none():
    assert fact_recall("anything", "Office hours are posted on the door.") is None


def test_each_reference_fact_is_matched_once():
    assert fact_recall("room 202", "room 202, then room 202 again") == pytest.approx(0.5)
