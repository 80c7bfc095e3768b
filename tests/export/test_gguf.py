"""GGUF and Ollama exports of a finished tiny run: the file reads back as the same model, the Modelfile is right."""

import pytest
import torch

from tests.conftest import CHATML, require_llama_cpp
from tests.export.greedy import llama_cpp_greedy, transformers_greedy
from tunesmith.errors import ExportError
from tunesmith.export import export_run
from tunesmith.export.ollama import chat_format, go_template

PROMPT = "<|im_start|>user\nWhen do you open? Call (541) 555-0187<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def exports(tiny_run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    paths = {
        weights: export_run(tiny_run_dir, "gguf", out / f"tiny-{weights}.gguf", weights) for weights in ("f16", "q8_0")
    }
    paths["merged"] = export_run(tiny_run_dir, "merged", out / "merged")
    paths["ollama"] = export_run(tiny_run_dir, "ollama", out / "ollama")
    return paths


@pytest.fixture(scope="module")
def merged(exports):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(exports["merged"]).eval(), AutoTokenizer.from_pretrained(
        exports["merged"]
    )


@pytest.mark.parametrize(("weights", "tolerance"), [("f16", 0.05), ("q8_0", 0.1)])
def test_gguf_reads_back_as_the_merged_model_with_its_tokenizer(exports, merged, weights, tolerance):
    """transformers' own GGUF reader (which undoes llama.cpp's q/k row order) gives back the merged model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = exports[weights]
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name).eval()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    ids = merged[1](PROMPT, add_special_tokens=False)["input_ids"]
    assert tokenizer(PROMPT, add_special_tokens=False)["input_ids"] == ids
    with torch.no_grad():
        expected, got = merged[0](torch.tensor([ids])).logits, model(torch.tensor([ids])).logits
    assert (expected - got).abs().max() < tolerance * expected.abs().max()
    assert transformers_greedy(model, ids, 8) == transformers_greedy(merged[0], ids, 8)


def test_gguf_metadata_carries_the_tokenizer_and_chat_template(exports, merged):
    from gguf import GGUFReader

    reader = GGUFReader(exports["q8_0"])
    fields = {name: field.contents() for name, field in reader.fields.items()}
    tokenizer = merged[1]
    assert fields["general.architecture"] == "llama" and fields["tokenizer.ggml.model"] == "gpt2"
    assert fields["tokenizer.ggml.pre"] == "gpt-2" and fields["tokenizer.chat_template"] == CHATML
    assert fields["tokenizer.ggml.eos_token_id"] == tokenizer.eos_token_id
    assert fields["tokenizer.ggml.tokens"][tokenizer.eos_token_id] == "<|im_end|>"
    assert fields["tokenizer.ggml.token_type"][tokenizer.eos_token_id] == 3  # control
    assert len(fields["tokenizer.ggml.merges"]) > 100
    assert fields["tokenizer.ggml.add_bos_token"] is False  # as the HF tokenizer: no BOS before a prompt
    types = {tensor.name: tensor.tensor_type.name for tensor in reader.tensors}
    assert types["blk.0.ffn_down.weight"] == "Q8_0"  # rows of 96 values: q8_0 blocks of 32 fit
    assert types["blk.0.attn_q.weight"] == "F16" and types["output_norm.weight"] == "F32"
    assert "output.weight" not in types  # tied to token_embd, as in the model


def test_ollama_folder_has_the_gguf_and_a_modelfile_from_the_run(exports, tiny_run_dir):
    import os

    folder = exports["ollama"]
    umask = os.umask(0)
    os.umask(umask)
    assert (folder.stat().st_mode & 0o777) == 0o777 & ~umask  # not left private by the temp staging
    assert ((folder / "model.gguf").stat().st_mode & 0o777) == 0o666 & ~umask
    assert (folder / "model.gguf").stat().st_size > 10_000
    modelfile = (folder / "Modelfile").read_text()
    assert modelfile.startswith("# tunesmith scored this run decoding greedy\nFROM ./model.gguf\n")
    assert 'SYSTEM """You answer for PressCrafters."""' in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and "PARAMETER temperature 0" in modelfile
    assert "PARAMETER num_ctx 256" in modelfile and "PARAMETER num_predict 8" in modelfile
    assert '{{ else if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n' in modelfile
    assert (
        modelfile.split('TEMPLATE """', 1)[1].split('"""', 1)[0].endswith("{{ end }}{{ end }}<|im_start|>assistant\n")
    )


def test_the_modelfile_says_how_the_run_was_scored_when_ollama_cannot_decode_that_way(tiny_tokenizer):
    from tunesmith.export import ollama

    found = ollama.chat_format(tiny_tokenizer)
    beam = {"num_beams": 4, "length_penalty": 1.0, "early_stopping": True, "no_repeat_ngram_size": 3}
    text = ollama.modelfile(found, ["<|im_end|>"], None, 64, 256, decoding=beam, chosen="beam 4 won on validation")
    lines = text.splitlines()
    assert (
        lines[0]
        == "# tunesmith scored this run decoding beam search (4 beams), 3-gram guard; beam 4 won on validation"
    )
    assert (
        lines[1].startswith("# Ollama has neither beam search nor an n-gram guard") and lines[2] == "FROM ./model.gguf"
    )
    assert "PARAMETER temperature 0" in lines


def test_chat_format_rebuilds_the_template_and_finds_a_default_system_prompt(tiny_tokenizer):
    default = "You are SmolLM."
    tiny_tokenizer.chat_template = (
        "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
        + default
        + "<|im_end|>\n' }}{% endif %}"
        + CHATML
    )
    try:
        found = chat_format(tiny_tokenizer)
        conversation = [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
        ]
        with_system = [{"role": "system", "content": default}, *conversation]
        assert found.render(with_system) == tiny_tokenizer.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=True
        )
        assert found.default_system == default
        tiny_tokenizer.chat_template = "{% for m in messages %}{{ m['content'] | upper }}{% endfor %}"
        with pytest.raises(ExportError, match="cannot be written as an Ollama TEMPLATE: .* each message once"):
            go_template(chat_format(tiny_tokenizer))
    finally:
        tiny_tokenizer.chat_template = CHATML


def test_llama_cpp_loads_the_gguf_and_generates_the_same_first_tokens(exports, merged):
    Llama = require_llama_cpp().Llama

    model, tokenizer = merged
    ids = tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    expected = transformers_greedy(model, ids, 8)
    # f16 must follow the merged model exactly; q8_0 (llama.cpp also rounds the activations to 8 bits in its dot
    # products) only at the start: this tiny model's top logits are close enough for rounding to swap them later.
    for weights, must_match in (("f16", len(expected)), ("q8_0", 2)):
        llm = Llama(model_path=str(exports[weights]), n_ctx=256, n_threads=2, verbose=False, seed=0)
        assert llm.tokenize(PROMPT.encode(), add_bos=False, special=True) == ids
        generated = llama_cpp_greedy(llm, ids, len(expected))
        assert generated[:must_match] == expected[:must_match], weights
