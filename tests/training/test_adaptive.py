"""The plateau layer inside a torch scheduler: the rate drops at once, and the state survives a checkpoint."""

import pytest
import torch

from tunesmith.schedules import PlateauReducer, to_lambda
from tunesmith.training.adaptive import AdaptiveLR


def make_scheduler(reducer):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    return optimizer, AdaptiveLR(optimizer, to_lambda("linear", total=10, warmup=0, min_ratio=0.0), reducer)


def test_the_rate_is_the_schedule_times_the_plateau_factor_from_the_next_step_on():
    optimizer, scheduler = make_scheduler(PlateauReducer(patience=1, factor=0.5, threshold=0.0))
    for _ in range(2):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.8)
    scheduler.on_validation_loss(1.0)
    scheduler.on_validation_loss(1.2)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.8 * 0.5)
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.7 * 0.5)


def test_scheduler_state_carries_the_plateau_state_and_loads_without_pickles(tmp_path):
    optimizer, scheduler = make_scheduler(PlateauReducer(patience=1, factor=0.5, threshold=0.0))
    optimizer.step()
    scheduler.step()
    scheduler.on_validation_loss(1.0)
    scheduler.on_validation_loss(1.5)
    torch.save(scheduler.state_dict(), tmp_path / "scheduler.pt")
    fresh_optimizer, fresh = make_scheduler(PlateauReducer(patience=1, factor=0.5, threshold=0.0))
    fresh.load_state_dict(torch.load(tmp_path / "scheduler.pt", weights_only=True))
    assert fresh.reducer.state_dict() == {"best": 1.0, "bad_evaluations": 0, "factor": 0.5}
    fresh_optimizer.step()
    fresh.step()
    optimizer.step()
    scheduler.step()
    assert fresh_optimizer.param_groups[0]["lr"] == pytest.approx(optimizer.param_groups[0]["lr"])


def test_without_a_reducer_it_is_the_plain_schedule():
    optimizer, scheduler = make_scheduler(None)
    assert scheduler.on_validation_loss(5.0) == 1.0
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.09)
