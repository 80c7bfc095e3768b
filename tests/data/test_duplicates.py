from tunesmith.data.duplicates import duplicate_groups, similar_pairs


def test_rewordings_of_one_question_are_near_duplicates():
    texts = [
        "What are the prerequisites for CSC 325?",
        "what are the prerequisites for csc 325",
        "What are the prerequisites for CSC 330?",
        "Where is the Computer Science office?",
    ]
    pairs = similar_pairs(texts)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]  # another course number is another question
    assert pairs[0][2] >= 0.99


def test_pairs_across_two_lists():
    pairs = similar_pairs(["How do I apply?", "Who teaches CSC 450?"], ["who teaches CSC 450", "When is lunch?"])
    assert [(i, j) for i, j, _ in pairs] == [(1, 0)]
    assert similar_pairs([], ["anything"]) == []


def test_groups_follow_chains_of_pairs():
    groups = duplicate_groups(5, [(0, 1, 0.9), (1, 3, 0.9)])
    assert groups[0] == groups[1] == groups[3]
    assert len({groups[0], groups[2], groups[4]}) == 3
