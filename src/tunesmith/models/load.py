"""Loading models for training and scoring: tokenizer, base model (decoder or encoder-decoder), a fresh LoRA
adapter, and a finished run's base with its saved adapter attached.

Code shipped in a model folder (``auto_map``) is never run: every load passes ``trust_remote_code=False``, so
transformers refuses such a model (a ModelError) instead of asking, or running it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.errors import ModelError


@dataclass
class CausalBundle:
    """What training and evaluation need: the LoRA-wrapped model and its tokenizer."""

    model: Any
    tokenizer: Any
    system_prompt: str | None


def is_encoder_decoder(folder: Path) -> bool:
    import json

    config = Path(folder) / "config.json"
    return config.is_file() and bool(json.loads(config.read_text()).get("is_encoder_decoder"))


def load_tokenizer(folder: Path):
    """The model's tokenizer, padded with its end-of-text token where it has no pad token.

    A decoder-only model without a chat template (a base model) gets tunesmith's default one
    (:data:`tunesmith.models.chat.DEFAULT_CHAT_TEMPLATE`; the plan says so, see
    :func:`tunesmith.plan.model_info.has_chat_template`); it is saved with the adapter and exports, so the tuned
    model is prompted as it was trained. Encoder-decoders keep none: they read plain text.
    """
    from transformers import AutoTokenizer

    from tunesmith.models.chat import DEFAULT_CHAT_TEMPLATE

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except Exception as err:  # noqa: BLE001 - one clear message instead of a deep traceback
        raise ModelError(f"{folder}: cannot load the tokenizer: {err}") from err
    if tokenizer.chat_template is None and not is_encoder_decoder(folder):
        if tokenizer.eos_token is None:
            raise ModelError(
                f"{folder}: the tokenizer has no chat template and no end-of-text token to close turns with; "
                "use an instruct/chat model"
            )
        tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(folder: Path):
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(folder, dtype="float32", trust_remote_code=False)
    except Exception as err:  # noqa: BLE001 - one clear message instead of a deep traceback
        raise ModelError(f"{folder}: cannot load the model: {err}") from err


def load_seq2seq_model(folder: Path):
    from transformers import AutoModelForSeq2SeqLM

    try:
        return AutoModelForSeq2SeqLM.from_pretrained(folder, dtype="float32", trust_remote_code=False)
    except Exception as err:  # noqa: BLE001 - one clear message instead of a deep traceback
        raise ModelError(f"{folder}: cannot load the encoder-decoder model: {err}") from err


def add_lora(model, r: int, alpha: float, dropout: float, target_modules, task_type: str = "CAUSAL_LM", **options):
    """A fresh PEFT LoRA adapter; ``options`` are further peft.LoraConfig settings (use_dora, use_rslora)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules, task_type=task_type, **options
    )
    return get_peft_model(model, config)


def load_trained(folder: Path, adapter: Path, system_prompt: str | None) -> CausalBundle:
    """The base model with a saved adapter attached (for evaluation of a finished run)."""
    from peft import PeftModel

    tokenizer = load_tokenizer(folder)
    model = PeftModel.from_pretrained(load_base_model(folder), adapter)
    return CausalBundle(model=model, tokenizer=tokenizer, system_prompt=system_prompt)


def load_trained_seq2seq(folder: Path, adapter: Path) -> CausalBundle:
    from peft import PeftModel

    model = PeftModel.from_pretrained(load_seq2seq_model(folder), adapter)
    return CausalBundle(model=model, tokenizer=load_tokenizer(folder), system_prompt=None)


def load_trained_model(folder: Path, adapter: Path, system_prompt: str | None) -> CausalBundle:
    """A finished run's model: its base (either family) with the saved adapter attached."""
    if is_encoder_decoder(folder):
        return load_trained_seq2seq(folder, adapter)
    return load_trained(folder, adapter, system_prompt)


def build_causal(folder: Path, plan, lora_dropout: float, system_prompt: str | None, **options) -> CausalBundle:
    """Load the decoder from ``folder`` and wrap it with a fresh LoRA adapter shaped by the plan (``options``:
    see :func:`add_lora`)."""
    tokenizer = load_tokenizer(folder)
    model = load_base_model(folder)
    model = add_lora(model, plan["lora_r"], plan["lora_alpha"], lora_dropout, plan["target_modules"], **options)
    return CausalBundle(model=model, tokenizer=tokenizer, system_prompt=system_prompt)


def build_seq2seq(folder: Path, plan, lora_dropout: float, **options) -> CausalBundle:
    """Load the encoder-decoder from ``folder`` (the prompt's text goes to the encoder, the answer is the decoder's
    target) and wrap it with a fresh LoRA adapter shaped by the plan."""
    model = load_seq2seq_model(folder)
    shape = (plan["lora_r"], plan["lora_alpha"], lora_dropout, plan["target_modules"])
    model = add_lora(model, *shape, "SEQ_2_SEQ_LM", **options)
    return CausalBundle(model=model, tokenizer=load_tokenizer(folder), system_prompt=None)
