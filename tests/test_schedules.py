import math

import pytest

from tunesmith.schedules import constant, linear, to_lambda, warmup_cosine


def test_warmup_rises_linearly_to_the_peak():
    assert [warmup_cosine(step, 100, warmup=4) for step in range(4)] == [0.25, 0.5, 0.75, 1.0]


def test_cosine_decays_from_peak_through_half_to_the_floor():
    assert warmup_cosine(10, 110, warmup=10) == pytest.approx(1.0)
    assert warmup_cosine(60, 110, warmup=10) == pytest.approx(0.5)
    assert warmup_cosine(110, 110, warmup=10, min_ratio=0.1) == pytest.approx(0.1)
    values = [warmup_cosine(step, 110, warmup=10) for step in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_linear_and_constant_after_warmup():
    assert linear(50, 100) == pytest.approx(0.5)
    assert linear(100, 100, min_ratio=0.2) == pytest.approx(0.2)
    assert constant(0, 100, warmup=2) == 0.5 and constant(99, 100, warmup=2) == 1.0


def test_to_lambda_binds_everything_but_the_step():
    schedule = to_lambda("warmup_cosine", total=20, warmup=0, min_ratio=0.0)
    assert schedule(10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
