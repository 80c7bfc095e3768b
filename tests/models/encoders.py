"""Tiny random models of the encoder families users bring, each with a locally trained tokenizer (no download):
a BART encoder-decoder for summaries, and two sentence-transformers embedding models beside the MiniLM-style BERT
of tests/conftest.py: an MPNet (all-mpnet-base-v2's shape: MPNet's ``<s> ... </s>`` specials, mean pooling) and
a BGE-style BERT (BAAI/bge-*'s shape: CLS pooling, then a Normalize module).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import _corpus, build_tiny_bert

BART_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # BART's ids: <s> 0, <pad> 1, </s> 2, <unk> 3
MPNET_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # all-mpnet-base-v2's first ids, in its order


def build_tiny_bart(folder: Path, seed: int = 0) -> Path:
    """A 2+2-layer BART (d_model 48) whose byte-level BPE tokenizer wraps every text as BART's does
    (``<s> text </s>``, RoBERTa's post-processor). The decoder starts with ``</s>``, its first token is forced to
    ``<s>`` and its last (at the length limit) to ``</s>``; and, as the BART checkpoints users fine-tune ship it
    (facebook/bart-base, bart-large-cnn), the generation config asks for beam search with a 3-gram ban: decoding
    that nobody chose unless tunesmith's own settings replace it."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer, GenerationConfig

    core = Tokenizer(models.BPE(unk_token=None))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=BART_SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    core.train_from_iterator(_corpus(), trainer=trainer)
    trained = json.loads(core.to_str())["model"]
    merges = [tuple(pair) if isinstance(pair, list) else tuple(pair.split(" ")) for pair in trained["merges"]]
    tokenizer = BartTokenizer(vocab=trained["vocab"], merges=merges)
    assert tokenizer.convert_tokens_to_ids(BART_SPECIALS) == [0, 1, 2, 3, 4]
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=48,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=96,
        decoder_ffn_dim=96,
        max_position_embeddings=256,
        init_std=0.2,  # as the tiny Llama's: frozen embeddings this small would cap the logits LoRA can reach
        dropout=0.0,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = BartForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_bos_token_id=tokenizer.bos_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
        num_beams=4,
        no_repeat_ngram_size=3,
        early_stopping=True,
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _wordpiece(specials: list[str], unk: str, vocab_size: int = 800):
    """A lower-casing WordPiece tokenizer (BERT's normaliser and pre-tokeniser) trained on the sample corpus."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    core = Tokenizer(models.WordPiece(unk_token=unk))
    core.normalizer = normalizers.BertNormalizer(lowercase=True)
    core.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    core.train_from_iterator(
        _corpus(), trainer=trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials)
    )
    return core


def _sentence_folder(folder: Path, model, tokenizer, pooling: str, normalize: bool) -> Path:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    transformer_dir = folder / "transformer"
    model.save_pretrained(transformer_dir)
    tokenizer.save_pretrained(transformer_dir)
    modules = [Transformer(str(transformer_dir), max_seq_length=64), Pooling(model.config.hidden_size, pooling)]
    SentenceTransformer(modules=modules + ([Normalize()] if normalize else [])).save(str(folder / "st"))
    return folder / "st"


def build_tiny_mpnet(folder: Path, seed: int = 0) -> Path:
    """A 2-layer MPNet (hidden 32) with a WordPiece tokenizer carrying MPNet's specials and its ``<s> $A </s>``
    post-processor, saved as a sentence-transformers folder with mean pooling (all-mpnet-base-v2's shape)."""
    import torch
    from transformers import MPNetConfig, MPNetModel, MPNetTokenizer

    core = _wordpiece(MPNET_SPECIALS, "<unk>")
    tokenizer = MPNetTokenizer(vocab=core.get_vocab(), unk_token="<unk>", do_lower_case=True)
    assert tokenizer("a b").input_ids[0] == tokenizer.bos_token_id and tokenizer("a b").input_ids[-1] == 2
    config = MPNetConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,  # positions start after the padding index (RoBERTa's offset), as MPNet's 514
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    return _sentence_folder(folder, MPNetModel(config), tokenizer, "mean", normalize=False)


def build_tiny_bge(folder: Path, seed: int = 0) -> Path:
    """The tiny BERT as BAAI/bge-* models ship: CLS pooling, then a Normalize module (unit-length embeddings)."""
    return build_tiny_bert(folder, seed, pooling="cls", normalize=True)
