"""Task builders, one module per kind of model; ``cfg.task`` picks one.

``summarization`` runs on either family: an encoder-decoder model (T5, BART, Pegasus) gets the seq2seq builder,
a decoder-only instruct model the causal one (a summarisation prompt, the loss on the summary only).
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.errors import ConfigError
from tunesmith.tasks.causal import CausalBundle, build_causal, encode_examples, load_trained
from tunesmith.tasks.seq2seq import build_seq2seq, encode_seq2seq_examples, is_encoder_decoder, load_trained_seq2seq


def build_summarizer(folder: Path, plan, lora_dropout: float, system_prompt: str | None) -> CausalBundle:
    builder = build_seq2seq if is_encoder_decoder(folder) else build_causal
    return builder(folder, plan, lora_dropout, system_prompt)


BUILDERS = {"causal_lm": build_causal, "summarization": build_summarizer}


def load_trained_model(folder: Path, adapter: Path, system_prompt: str | None) -> CausalBundle:
    """A finished run's model: its base (either family) with the saved adapter attached."""
    if is_encoder_decoder(folder):
        return load_trained_seq2seq(folder, adapter)
    return load_trained(folder, adapter, system_prompt)


def encode_for(bundle: CausalBundle, examples, max_length: int, max_target_length: int, with_difficulty=False):
    """Training rows for the bundle's family: chat-formatted with answer-only labels, or source/target pairs.

    ``with_difficulty`` adds the difficulty and source columns a difficulty curriculum reads (decoder-only).
    """
    if bundle.model.config.is_encoder_decoder:
        if with_difficulty:
            raise ConfigError("training.curriculum 'difficulty' is not supported for encoder-decoder models yet")
        return encode_seq2seq_examples(bundle.tokenizer, examples, max_length, max_target_length)
    return encode_examples(bundle.tokenizer, examples, max_length, bundle.system_prompt, with_difficulty)


__all__ = ["BUILDERS", "CausalBundle", "build_causal", "encode_for", "load_trained", "load_trained_model"]
