"""A merged causal LM written as one GGUF file by llama.cpp's own converter, for llama.cpp and Ollama.

Every architecture llama.cpp's convert_hf_to_gguf.py knows (Llama, Qwen2/3, Phi-3, Mistral, Gemma 2/3, ...) in
f16, bf16 or q8_0; q4_K_M, q5_K_M and q6_K through llama.cpp's quantizer from the f16 file. The converter lives
in tunesmith.export.llama_cpp; this module saves the merged model where the converter reads it and stages the
result so that a failed export leaves no file behind.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tunesmith.atomic import staged_file
from tunesmith.errors import ExportError
from tunesmith.export.llama_cpp import CONVERTER_TYPES, GGUF_TYPES, convert, quantize

__all__ = ["GGUF_TYPES", "gguf_type", "llama_cpp_pre_tokenizer", "save_tokenizer", "write_gguf"]


def gguf_type(name: str) -> str:
    """The GGUF weight type in tunesmith's spelling (lower case: q4_K_M and q4_k_m are the same).

    Raises:
        ExportError: not a type tunesmith can write.
    """
    weights = name.lower()
    if weights not in GGUF_TYPES:
        raise ExportError(f"GGUF weights must be one of {', '.join(GGUF_TYPES)}, not '{name}'")
    return weights


def write_gguf(
    model, tokenizer, path: Path, weights: str = "f16", name: str = "model", tokenizer_dir: Path | None = None
) -> Path:
    """Write ``model`` (merged, plain transformers) and its tokenizer to ``path`` atomically, through llama.cpp.

    ``tokenizer_dir``: the base model's folder, whose SentencePiece ``tokenizer.model`` (Llama 2, Mistral, Phi-3,
    Gemma) the converter reads; transformers does not write that file back.

    Raises:
        ExportError: an unknown weight type, or llama.cpp's converter or quantizer refused the model.
    """
    weights = gguf_type(weights)
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="tunesmith-gguf-", dir=path.parent) as scratch:
        source = Path(scratch) / "hf"
        model.save_pretrained(source)
        save_tokenizer(tokenizer, source, tokenizer_dir)
        pre = llama_cpp_pre_tokenizer(tokenizer)
        with staged_file(path) as temp:
            if weights in CONVERTER_TYPES:
                convert(source, temp, weights, pre, name)
            else:
                f16 = Path(scratch) / "f16.gguf"
                convert(source, f16, "f16", pre, name)
                quantize(f16, temp, weights)
            differs = tokenization_difference(temp, tokenizer)
    if differs:
        from rich.console import Console

        Console(stderr=True).print(f"note: {path.name}: {differs}")
    return path


PROBE = [{"role": "user", "content": "When do you open? Call (541) 555-0187 or see https://example.com/hours"}]


def tokenization_difference(path: Path, tokenizer) -> str | None:
    """Where llama.cpp (llama-cpp-python, when installed) tokenizes a chat prompt unlike transformers, what differs;
    None when they agree or llama.cpp is not installed. A legacy-free SentencePiece tokenizer, for one, puts no
    space after a special token where llama.cpp does: the served model then reads prompts unlike training."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    from tunesmith.models.chat import prompt_text

    text = prompt_text(tokenizer, PROBE, "You answer briefly.")
    expected = tokenizer(text, add_special_tokens=False)["input_ids"]
    vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
    try:
        got = vocab.tokenize(text.encode(), add_bos=False, special=True)
    finally:
        vocab.close()
    if got == expected:
        return None
    at = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
    return (
        f"llama.cpp tokenizes a chat prompt unlike transformers ({len(got)} tokens against {len(expected)}, first "
        f"difference at token {at}: {tokenizer.convert_ids_to_tokens(expected[at : at + 3])} in training); answers "
        "served from this file may differ from the ones tunesmith scored"
    )


# The splits of Llama 3 and Qwen2 (and their descendants), as their tokenizer.json write them.
def save_tokenizer(tokenizer, folder: Path, tokenizer_dir: Path | None) -> None:
    """The tokenizer's files as llama.cpp's converter reads them."""
    import json
    import shutil

    tokenizer.save_pretrained(folder)
    if tokenizer_dir is not None and (Path(tokenizer_dir) / "tokenizer.model").is_file():
        shutil.copyfile(Path(tokenizer_dir) / "tokenizer.model", folder / "tokenizer.model")
    # The converter takes the tokens added after a SentencePiece vocabulary (Phi-3's <|end|>) and which of them are
    # special from tokenizer_config.json's added_tokens_decoder, which transformers 5 no longer writes there.
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.setdefault(
        "added_tokens_decoder",
        {str(i): {"content": t.content, "special": t.special} for i, t in tokenizer.added_tokens_decoder.items()},
    )
    # Say whether a BOS/EOS is added to a prompt: llama.cpp's default when the file is silent differs by vocabulary.
    probe = tokenizer("a")["input_ids"]
    config.setdefault("add_bos_token", tokenizer.bos_token_id is not None and probe[0] == tokenizer.bos_token_id)
    config.setdefault("add_eos_token", tokenizer.eos_token_id is not None and probe[-1] == tokenizer.eos_token_id)
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")


_WORDS = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|"
_REST = r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
SPLIT_PATTERNS = {_WORDS + r"\p{N}{1,3}" + _REST: "llama-bpe", _WORDS + r"\p{N}" + _REST: "qwen2"}


def llama_cpp_pre_tokenizer(tokenizer) -> str | None:
    """llama.cpp's name for the tokenizer's pre-tokenizer (the regex that splits text before BPE), read from
    tokenizer.json; None for a SentencePiece-style tokenizer or a split llama.cpp does not name.

    llama.cpp's converter recognises a published tokenizer by hashing its tokens of a probe text; this is what it
    falls back on for a tokenizer trained or edited locally."""
    import json

    pre = json.loads(tokenizer.backend_tokenizer.to_str()).get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [part.get("type") for part in parts]
    byte_level = parts[-1] if parts else {}
    if kinds == ["ByteLevel"] and byte_level.get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and parts[0].get("individual_digits") and byte_level.get("use_regex", True):
        return "smollm"
    if kinds == ["Split", "ByteLevel"] and not byte_level.get("use_regex", True):
        return SPLIT_PATTERNS.get((parts[0].get("pattern") or {}).get("Regex"))
    return None
