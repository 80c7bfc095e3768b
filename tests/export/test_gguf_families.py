"""GGUF through llama.cpp's own converter for every decoder family users bring (tests/models/families.py): the file
names the family's llama.cpp architecture and tokenizer, carries its chat template and end-of-turn token, and
llama.cpp (llama-cpp-python, built from the same llama.cpp as the converter) tokenizes a chat prompt as transformers
does and generates the same greedy tokens as the transformers model, in f16 and q8_0. Where transformers' own GGUF
reader handles the family, it reads the file back as the same model too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import require_llama_cpp
from tests.export.greedy import llama_cpp_greedy, transformers_greedy
from tests.models.families import FAMILIES, build_family
from tunesmith.export.gguf import write_gguf
from tunesmith.models.chat import prompt_text

# llama.cpp's architecture and tokenizer model for each family.
ARCHITECTURE = {
    "llama3": ("llama", "gpt2"),
    "tinyllama": ("llama", "llama"),
    "qwen2": ("qwen2", "gpt2"),
    "qwen3": ("qwen3", "gpt2"),
    "phi3": ("phi3", "llama"),
    "mistral": ("llama", "llama"),
    "gemma2": ("gemma2", "llama"),
    "gemma3": ("gemma3", "llama"),
}
# transformers 5.23's GGUF reader gives the model back for these; it cannot read Mistral's file (it knows no
# "mistral" tokenizer section), nor Qwen3 or Gemma 2/3 with a head size other than hidden/heads (these tiny ones).
READER = ("llama3", "tinyllama", "qwen2", "phi3")
pytestmark = pytest.mark.slow  # eight families, each converted twice in its own interpreter
QUESTION = "When do you open? Call (541) 555-0187 or see https://presscrafters.example/hours"
STEPS = 8


@pytest.fixture(scope="module", params=list(FAMILIES))
def converted(request, tmp_path_factory):
    """(family, model, tokenizer, {weights: gguf path}) for one family, converted once per module."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = FAMILIES[request.param]
    folder = build_family(tmp_path_factory.mktemp(spec.name), spec)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    files = {
        weights: write_gguf(
            model, tokenizer, folder.parent / f"{spec.name}-{weights}.gguf", weights, spec.name, folder
        )
        for weights in ("f16", "q8_0")
    }
    return spec, model, tokenizer, files


def prompt(tokenizer) -> tuple[str, list[int]]:
    text = prompt_text(tokenizer, [{"role": "user", "content": QUESTION}], "You answer for PressCrafters.")
    return text, tokenizer(text, add_special_tokens=False)["input_ids"]


def test_the_file_names_the_family_and_carries_its_chat_template_and_end_of_turn(converted):
    from gguf import GGUFReader

    spec, _, tokenizer, files = converted
    fields = {name: field.contents() for name, field in GGUFReader(files["q8_0"]).fields.items()}
    assert (fields["general.architecture"], fields["tokenizer.ggml.model"]) == ARCHITECTURE[spec.name]
    assert fields["tokenizer.chat_template"] == spec.template
    end = tokenizer.convert_tokens_to_ids(spec.end_of_turn)
    assert fields["tokenizer.ggml.tokens"][end] == spec.end_of_turn
    assert fields["tokenizer.ggml.token_type"][end] == 3  # control: never produced by tokenizing plain text
    assert fields["tokenizer.ggml.eos_token_id"] == tokenizer.eos_token_id
    adds_bos = tokenizer("a")["input_ids"][0] == tokenizer.bos_token_id
    assert fields["tokenizer.ggml.add_bos_token"] == adds_bos  # llama.cpp adds one to a prompt as transformers does


@pytest.mark.parametrize("weights", ["f16", "q8_0"])
def test_llama_cpp_tokenizes_the_prompt_and_answers_as_transformers(converted, weights):
    """f16 must follow the transformers model exactly; q8_0 (llama.cpp also rounds the activations to 8 bits in
    its dot products) for the first two tokens: these tiny models' top logits are close enough to swap later."""
    Llama = require_llama_cpp().Llama
    _, model, tokenizer, files = converted
    text, ids = prompt(tokenizer)
    llm = Llama(model_path=str(files[weights]), n_ctx=256, n_threads=1, verbose=False, seed=0)
    assert llm.tokenize(text.encode(), add_bos=False, special=True) == ids
    expected, got = transformers_greedy(model, ids, STEPS), llama_cpp_greedy(llm, ids, STEPS)
    must_match = STEPS if weights == "f16" else 2
    assert got[:must_match] == expected[:must_match]


@pytest.fixture(scope="session")
def ollama_render(tmp_path_factory):
    """A function rendering an Ollama TEMPLATE over messages with Go's text/template, as Ollama does."""
    import os
    import shutil
    import subprocess

    go = shutil.which("go")
    if go is None:
        if os.environ.get("TUNESMITH_REQUIRE_GO"):
            pytest.fail("Go is missing: `make test` installs Debian's golang-go package when it can")
        pytest.skip("Go is not installed (apt-get install golang-go)")
    folder = tmp_path_factory.mktemp("go")
    env = {**os.environ, "GOCACHE": str(folder / "cache"), "GOPATH": str(folder / "path"), "GOFLAGS": "-mod=mod"}
    binary = folder / "render"
    source = Path(__file__).with_name("ollama_template.go")
    subprocess.run([go, "build", "-o", str(binary), str(source)], check=True, env=env, cwd=folder)

    def render(template: str, messages: list[dict]) -> str:
        payload = json.dumps({"template": template, "messages": messages})
        return subprocess.run([str(binary)], input=payload, capture_output=True, text=True, check=True).stdout

    return render


def test_the_modelfile_template_renders_in_go_as_tunesmith_prompts(converted, ollama_render):
    """Ollama sends the Modelfile's SYSTEM as the first message; its TEMPLATE, rendered by Go's text/template,
    gives the prompt tunesmith trained and scores with (less a BOS that llama.cpp adds itself)."""
    from tunesmith.export.ollama import chat_format, go_template, modelfile, stop_strings

    spec, model, tokenizer, _ = converted
    found = chat_format(tokenizer)
    template = go_template(found)
    system = "You answer for PressCrafters."
    history = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! Call (541) 555-0187."},
        {"role": "user", "content": QUESTION},
    ]
    adds_bos = tokenizer("a")["input_ids"][:1] == [tokenizer.bos_token_id]
    for messages in (history[-1:], history):
        expected = prompt_text(tokenizer, messages, system)
        if adds_bos:
            expected = expected.removeprefix(tokenizer.bos_token)
        assert ollama_render(template, [{"role": "system", "content": system}, *messages]) == expected
    text = modelfile(found, stop_strings(tokenizer, model), system, 64, 256)
    assert f'PARAMETER stop "{spec.end_of_turn}"' in text


def test_transformers_reads_the_file_back_as_the_same_model(converted):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec, model, tokenizer, files = converted
    if spec.name not in READER:
        pytest.skip(f"transformers' GGUF reader does not handle this {spec.name} file (see READER)")
    path = files["f16"]
    back = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name).eval()
    text, ids = prompt(tokenizer)
    with torch.no_grad():
        expected, got = model(torch.tensor([ids])).logits, back(torch.tensor([ids])).logits
    assert (expected - got).abs().max() < 0.02 * expected.abs().max()
    if spec.name != "phi3":  # its reader rebuilds the SentencePiece tokenizer without Phi-3's added tokens
        assert (
            AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)(
                tokenizer.decode(ids), add_special_tokens=False
            )["input_ids"]
            == ids
        )


def test_a_sentencepiece_family_without_its_tokenizer_model_is_a_clear_error(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.errors import ExportError

    folder = build_family(tmp_path / "phi3", FAMILIES["phi3"])
    model, tokenizer = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    with pytest.raises(ExportError, match="could not convert the model: ValueError: Error: Missing .*tokenizer.model"):
        write_gguf(model, tokenizer, tmp_path / "phi3.gguf", "f16", "phi3", tokenizer_dir=None)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["phi3"]  # no file, no scratch folder left behind
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["Phi3ForCausalLM"]


@pytest.mark.parametrize("legacy", [True, False])
def test_an_export_says_when_llama_cpp_tokenizes_prompts_unlike_training(tmp_path, capsys, legacy):
    """A TinyLlama tokenizer saved with legacy false puts no "▁" after a special token; llama.cpp always does."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    require_llama_cpp()
    folder = build_family(tmp_path / "tinyllama", FAMILIES["tinyllama"])
    config_path = folder / "tokenizer_config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "legacy": legacy}))
    model, tokenizer = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    capsys.readouterr()
    write_gguf(model, tokenizer, tmp_path / "tiny.gguf", "f16", "tinyllama", folder)
    said = capsys.readouterr().err
    if legacy:
        assert "tokenizes a chat prompt unlike transformers" not in said
    else:
        assert "note: tiny.gguf: llama.cpp tokenizes a chat prompt unlike transformers" in " ".join(said.split())
