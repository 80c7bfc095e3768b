import math

import pytest

from tunesmith.schedules import (
    PlateauReducer,
    constant,
    linear,
    phase_name,
    phase_of,
    schedule_settings,
    three_phase,
    to_lambda,
    warmup_cosine,
)


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


def test_warmup_cosine_agrees_with_transformers_after_warmup():
    import torch
    from transformers import get_cosine_schedule_with_warmup

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    reference = get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=10, num_training_steps=100)
    for step in (10, 25, 50, 75, 99, 100):
        assert warmup_cosine(step, 100, warmup=10) == pytest.approx(reference.lr_lambdas[0](step))


def test_three_phase_values_at_the_phase_boundaries():
    shape = dict(warmup=10, min_ratio=0.05, boundaries=(0.3, 0.8), explore_end_ratio=0.6)
    assert three_phase(10, 100, **shape) == pytest.approx(1.0)  # exploration starts at the peak
    assert three_phase(20, 100, **shape) == pytest.approx(0.8)  # halfway: linear from 1 to 0.6
    assert three_phase(30, 100, **shape) == pytest.approx(0.6)  # exploitation starts where exploration ended
    assert three_phase(55, 100, **shape) == pytest.approx(0.05 + 0.55 * 0.5)  # half cosine, halfway down
    assert three_phase(80, 100, **shape) == pytest.approx(0.05)  # refinement: the low tail
    assert three_phase(100, 100, **shape) == pytest.approx(0.05)
    values = [three_phase(step, 100, **shape) for step in range(10, 101)]
    assert all(a >= b - 1e-12 for a, b in zip(values, values[1:]))
    assert max(abs(a - b) for a, b in zip(values, values[1:])) < 0.05  # no jumps between phases


def test_phase_names_for_any_step():
    names = [phase_of(step, 100, warmup=10) for step in (0, 9, 10, 29, 30, 79, 80, 100)]
    assert names == [
        "warmup",
        "warmup",
        "exploration",
        "exploration",
        "exploitation",
        "exploitation",
        "refinement",
        "refinement",
    ]
    assert phase_name(50, 100, name="warmup_cosine", warmup=10) == "decay"
    assert phase_name(5, 100, name="three_phase", warmup=10, boundaries=(0.5, 0.9)) == "warmup"


def test_schedule_settings_from_a_config_drive_to_lambda():
    from tunesmith.config import config_from_dict

    config = config_from_dict(
        {"data": {"train": "t.jsonl"}, "schedule": {"type": "three_phase", "phase_boundaries": [0.2, 0.6]}}
    )
    settings = schedule_settings(config.schedule, warmup=0)
    assert settings["boundaries"] == (0.2, 0.6)
    assert to_lambda(total=100, **settings)(60) == pytest.approx(config.schedule.min_lr_ratio)


def test_three_phase_boundaries_out_of_order_are_rejected():
    from tunesmith.config import config_from_dict
    from tunesmith.errors import ConfigError

    with pytest.raises(ConfigError, match="phase_boundaries must satisfy"):
        config_from_dict({"data": {"train": "t.jsonl"}, "schedule": {"phase_boundaries": [0.8, 0.3]}})


def test_plot_writes_a_png_with_the_schedule(tmp_path):
    from tunesmith.plan.plot import _phase_spans, plot_schedule

    settings = {
        "name": "three_phase",
        "warmup": 5,
        "min_ratio": 0.05,
        "boundaries": (0.3, 0.8),
        "explore_end_ratio": 0.6,
    }
    path = plot_schedule(settings, 100, 1e-3, tmp_path / "lr.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    assert [span[0] for span in _phase_spans(settings, 100)] == ["warmup", "exploration", "exploitation", "refinement"]


def test_plateau_reducer_lowers_the_factor_after_patience_bad_evaluations():
    reducer = PlateauReducer(patience=2, factor=0.5, min_factor=0.2, threshold=0.0)
    factors = [reducer.step(loss) for loss in (3.0, 2.0, 2.5, 2.1, 1.5, 1.6, 1.6, 1.7, 1.8, 1.9, 2.0)]
    assert factors == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2]
    assert reducer.best == 1.5


def test_plateau_threshold_ignores_tiny_improvements_and_state_round_trips():
    reducer = PlateauReducer(patience=1, factor=0.1, min_factor=0.01, threshold=0.01)
    assert [reducer.step(loss) for loss in (1.0, 0.995, 0.98)] == [1.0, 0.1, 0.1]
    copy = PlateauReducer(patience=1, factor=0.1, min_factor=0.01, threshold=0.01)
    copy.load_state_dict(reducer.state_dict())
    assert copy.step(0.99) == reducer.step(0.99) == pytest.approx(0.01)
