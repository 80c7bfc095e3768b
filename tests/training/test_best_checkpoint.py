"""Early stopping on validation loss, and the best epoch's adapter kept as the run's adapter."""

import pytest
from safetensors.torch import load_file

from tests.training.helpers import fact_examples, train_tiny

UNSEEN = [  # near misses of the training answers: first their shared wording is learnt, then the details clash
    ("When do you close?", "We close at 6 pm."),
    ("Where is the depot?", "420 Linden Avenue."),
    ("What is your fax?", "(541) 555-0190."),
    ("Do you print posters?", "Yes, paper posters."),
]


@pytest.mark.slow
def test_overfitting_stops_early_and_the_best_epochs_adapter_is_kept(tiny_model_dir, tmp_path):
    _, run, result = train_tiny(
        tiny_model_dir,
        tmp_path,
        fact_examples(repeat=2),
        fact_examples(UNSEEN),
        lora={"r": 16, "alpha": 32},
        # a high rate on 8 examples memorises them: validation loss on unseen answers falls, then rises
        training={
            "epochs": 12,
            "batch_size": 4,
            "grad_accum": 1,
            "learning_rate": 4e-2,
            "bf16": False,
            "early_stopping_patience": 2,
        },
        schedule={"type": "constant", "warmup_ratio": 0.0},
        output={"logging_steps": 1, "keep_checkpoints": 2},
    )
    losses = result.validation
    best_epoch = losses.index(min(losses)) + 1
    assert 1 < best_epoch < len(losses)  # it fell, then rose
    assert result.stopped_early and len(losses) == best_epoch + 2  # patience 2
    assert result.best_checkpoint == f"checkpoint-{2 * best_epoch}" and result.best_validation == min(losses)
    kept = {path.name for path in run.checkpoints_dir.iterdir()}
    assert kept == {result.best_checkpoint, f"checkpoint-{result.steps}"}  # rotation (keep 2) spared the best
    best = load_file(run.checkpoints_dir / result.best_checkpoint / "adapter_model.safetensors")
    final = load_file(run.adapter_dir / "adapter_model.safetensors")
    last = load_file(run.checkpoints_dir / f"checkpoint-{result.steps}" / "adapter_model.safetensors")
    assert all((best[name] == final[name]).all() for name in best)
    assert any((last[name] != final[name]).any() for name in last)
