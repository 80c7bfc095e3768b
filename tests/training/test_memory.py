"""Frozen linear weights held in bf16 under bf16 autocast: the same loss, fp32 again afterwards; the heap trimmed
every few optimiser steps."""

from types import SimpleNamespace

import torch

from tests.training.helpers import fact_examples
from tunesmith.models.chat import encode_examples, training_collator
from tunesmith.models.heads import answer_only_loss
from tunesmith.models.load import add_lora, load_base_model, load_tokenizer
from tunesmith.training import memory
from tunesmith.training.memory import frozen_linears_in_bf16


def test_bf16_frozen_linears_change_nothing_under_autocast(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = add_lora(load_base_model(tiny_model_dir), 4, 8, 0.0, "all-linear")
    batch = training_collator(tokenizer, packing=False)(
        [dict(r) for r in encode_examples(tokenizer, fact_examples(), 64, None)]
    )
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        expected = answer_only_loss(model, batch)
        with frozen_linears_in_bf16(model, enabled=True):
            base = model.get_base_model().model.layers[0].mlp.down_proj.base_layer.weight
            lora = model.get_base_model().model.layers[0].mlp.down_proj.lora_A["default"].weight
            assert base.dtype == torch.bfloat16 and lora.dtype == torch.float32
            assert model.get_input_embeddings().weight.dtype == torch.float32
            assert model.get_output_embeddings().weight.dtype == torch.bfloat16  # a copy: the head is tied
            actual = answer_only_loss(model, batch)
    assert torch.equal(expected, actual)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight  # tied again


def test_freed_memory_goes_back_every_few_optimiser_steps(monkeypatch):
    trims = []
    monkeypatch.setattr(memory, "_trim", lambda: trims.append(True))
    callback = memory.ReturnFreedMemory(every=4)
    steps = []
    for step in range(1, 10):
        before = len(trims)
        callback.on_step_end(None, SimpleNamespace(global_step=step), None)
        steps += [step] * (len(trims) - before)
    assert steps == [4, 8]
