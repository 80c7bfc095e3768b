"""A schedule with the plateau layer on top, as a torch scheduler whose state (the layer's too) checkpoints."""

from __future__ import annotations

from collections.abc import Callable

from torch.optim.lr_scheduler import LambdaLR
from transformers import TrainerCallback

from tunesmith.schedules import PlateauReducer


class AdaptiveLR(LambdaLR):
    """``LambdaLR`` over a schedule multiplier, times the plateau reducer's factor when there is one.

    The reducer's state goes into ``state_dict`` (the Trainer's scheduler.pt), so a resumed run lowers the rate
    exactly where an uninterrupted one would.
    """

    def __init__(self, optimizer, schedule: Callable[[int], float], reducer: PlateauReducer | None = None):
        self.reducer = reducer
        super().__init__(optimizer, lambda step: schedule(step) * (reducer.factor if reducer else 1.0))

    def on_validation_loss(self, val_loss: float) -> float:
        """Feed the reducer and apply a new factor at once (not one optimiser step late)."""
        if self.reducer is None:
            return 1.0
        factor = self.reducer.step(val_loss)
        self._last_lr = [base * self.lr_lambdas[0](self.last_epoch) for base in self.base_lrs]
        for group, rate in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = rate
        return factor

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["lr_lambdas"] = [None] * len(self.lr_lambdas)  # closures: rebuilt from the config, not saved
        state.pop("reducer", None)
        if self.reducer is not None:
            state["plateau"] = self.reducer.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        state = dict(state)
        plateau = state.pop("plateau", None)
        super().load_state_dict(state)
        if self.reducer is not None and plateau is not None:
            self.reducer.load_state_dict(plateau)


class PlateauCallback(TrainerCallback):
    """After each evaluation, hand the validation metric to the trainer's :class:`AdaptiveLR` (negated when
    greater is better, since the reducer waits for a value that stops falling)."""

    def __init__(self, metric: str = "eval_loss", greater_is_better: bool = False) -> None:
        self.metric, self.sign = metric, -1.0 if greater_is_better else 1.0

    def on_evaluate(self, args, state, control, metrics=None, lr_scheduler=None, **kwargs):
        if isinstance(lr_scheduler, AdaptiveLR) and metrics and self.metric in metrics:
            lr_scheduler.on_validation_loss(self.sign * metrics[self.metric])


class ScheduledTrainerMixin:
    """``create_scheduler`` for any Hugging Face Trainer subclass (the causal LM's and sentence-transformers'):
    tunesmith's pure-function schedule, with the plateau layer when there is one. Set ``_schedule`` (the
    settings of :func:`tunesmith.schedules.to_lambda`) and ``_plateau`` before training."""

    _schedule: dict
    _plateau: PlateauReducer | None = None

    def create_scheduler(self, num_training_steps, optimizer=None):
        from tunesmith.schedules import to_lambda

        if self.lr_scheduler is None:
            self.lr_scheduler = AdaptiveLR(
                optimizer or self.optimizer, to_lambda(total=num_training_steps, **self._schedule), self._plateau
            )
        return self.lr_scheduler
