"""A merged Llama-architecture model written as one GGUF file (f16 or q8_0) with its tokenizer, for llama.cpp.

Written with the ``gguf`` package: tensor names from its Llama name map, llama.cpp's q/k row order (its RoPE
pairs neighbouring dimensions, Hugging Face's pairs the two halves of each head), and a gpt2-style BPE
vocabulary (tokens, token types, merges, special ids, chat template). Norm weights stay f32; in q8_0, matrices
whose rows are not a multiple of 32 (q8_0's block) stay f16, as llama.cpp's converter does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tunesmith.atomic import staged_file
from tunesmith.errors import ExportError

GGUF_TYPES = ("f16", "q8_0")
SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM",)


def write_gguf(model, tokenizer, tokenizer_dir: Path, path: Path, weights: str = "f16", name: str = "model") -> Path:
    """Write ``model`` (a merged, plain transformers Llama) and its tokenizer to ``path`` atomically.

    ``tokenizer_dir`` is a folder holding the tokenizer's files (tokenizer.json, tokenizer_config.json), from
    which the merges and special-token settings are read.

    Raises:
        ExportError: an architecture, RoPE scaling, tokenizer or weight type this writer does not handle.
    """
    import gguf

    if weights not in GGUF_TYPES:
        raise ExportError(f"GGUF weights must be one of {', '.join(GGUF_TYPES)}, not '{weights}'")
    config = model.config
    architecture = (config.architectures or [type(model).__name__])[0]
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise ExportError(f"GGUF export handles {', '.join(SUPPORTED_ARCHITECTURES)}, not {architecture}")
    path = Path(path)
    with staged_file(path) as temp:
        writer = gguf.GGUFWriter(str(temp), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
        _add_hyperparameters(writer, config, weights, name)
        _add_tokenizer(writer, tokenizer, tokenizer_dir, config.vocab_size)
        _add_tensors(writer, model, weights)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return path


def _add_hyperparameters(writer, config, weights: str, name: str) -> None:
    import gguf

    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise ExportError(f"GGUF export does not handle RoPE scaling ({rope.get('rope_type')})")
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        raise ExportError("GGUF export does not handle Llama models with attention or MLP biases")
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_name(name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads or config.num_attention_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_vocab_size(config.vocab_size)
    file_type = gguf.LlamaFileType.MOSTLY_F16 if weights == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0
    writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def llama_cpp_pre_tokenizer(tokenizer) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenizer (the regex that splits text before BPE)."""
    import json

    pre = json.loads(tokenizer.backend_tokenizer.to_str()).get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [part.get("type") for part in parts]
    byte_level = parts[-1] if parts else {}
    if kinds == ["ByteLevel"] and byte_level.get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and parts[0].get("individual_digits") and byte_level.get("use_regex", True):
        return "smollm"
    raise ExportError(f"GGUF export does not know llama.cpp's name for this pre-tokenizer: {kinds}")


def _add_tokenizer(writer, tokenizer, tokenizer_dir: Path, vocab_size: int) -> None:
    import gguf

    model = tokenizer.backend_tokenizer.model
    if type(model).__name__ != "BPE":
        raise ExportError("GGUF export handles byte-level BPE tokenizers only")
    pre = llama_cpp_pre_tokenizer(tokenizer)
    by_id = {token_id: token for token, token_id in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for token_id in range(vocab_size):
        if token_id not in by_id:
            tokens.append(f"[PAD{token_id}]")
            types.append(gguf.TokenType.UNUSED)
        elif token_id in added:
            tokens.append(by_id[token_id])
            types.append(gguf.TokenType.CONTROL if added[token_id].special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[token_id])
            types.append(gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(tokenizer_dir, load_merges=True, n_vocab=vocab_size)
    if not special.merges:
        raise ExportError(f"{tokenizer_dir}: no BPE merges found in the tokenizer files")
    special.chat_template = tokenizer.chat_template or special.chat_template
    # Say explicitly whether a BOS/EOS is added to a prompt: llama.cpp's default for BPE vocabularies differs.
    probe = tokenizer("a")["input_ids"]
    special.add_special_token.setdefault(
        "bos", tokenizer.bos_token_id is not None and probe[0] == tokenizer.bos_token_id
    )
    special.add_special_token.setdefault(
        "eos", tokenizer.eos_token_id is not None and probe[-1] == tokenizer.eos_token_id
    )
    special.add_to_gguf(writer, quiet=True)


def _add_tensors(writer, model, weights: str) -> None:
    import gguf

    config = model.config
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    heads = config.num_attention_heads
    kv_heads = config.num_key_value_heads or heads
    tied = bool(getattr(config, "tie_word_embeddings", False))
    for hf_name, tensor in model.state_dict().items():
        if hf_name.endswith("rotary_emb.inv_freq") or (tied and hf_name == "lm_head.weight"):
            continue
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ExportError(f"GGUF export: no llama.cpp name for the tensor {hf_name}")
        data = tensor.detach().float().cpu().numpy()
        if hf_name.endswith("self_attn.q_proj.weight"):
            data = _interleave_rope_rows(data, heads)
        elif hf_name.endswith("self_attn.k_proj.weight"):
            data = _interleave_rope_rows(data, kv_heads)
        data, qtype = _encode(data, weights)
        writer.add_tensor(gguf_name, data, raw_dtype=qtype)


def _interleave_rope_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """Reorder each head's rows from Hugging Face's rotate-half layout to llama.cpp's interleaved pairs."""
    return (
        weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)
    )


def _encode(data: np.ndarray, weights: str):
    import gguf

    if data.ndim == 1:
        return data.astype(np.float32), gguf.GGMLQuantizationType.F32
    if weights == "q8_0" and data.shape[-1] % gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0][0] == 0:
        return gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0), gguf.GGMLQuantizationType.Q8_0
    return data.astype(np.float16), gguf.GGMLQuantizationType.F16
