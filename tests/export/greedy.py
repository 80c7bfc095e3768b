"""The first greedy tokens a transformers model and a llama.cpp model (llama-cpp-python) generate after a prompt."""

from __future__ import annotations

import torch


def transformers_greedy(model, ids: list[int], steps: int) -> list[int]:
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=steps, min_new_tokens=steps, do_sample=False)
    return out[0, len(ids) :].tolist()


def llama_cpp_greedy(llm, ids: list[int], steps: int) -> list[int]:
    generated = []
    for token in llm.generate(ids, top_k=1, temp=0.0, reset=True):
        generated.append(token)
        if len(generated) == steps:
            break
    return generated
