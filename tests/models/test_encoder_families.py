"""One suite over the encoder families users bring, on tiny random models (tests/models/encoders.py):

- summaries on the encoder-decoders, T5 and BART: the encoder reads the prompt (at training and at generation
  alike), the labels are the summary; LoRA reaches attention, cross-attention and feed-forward layers, tunesmith's
  training lowers the loss, the merged model has the logits of base + adapter; decoding is what the plan chose
  (not the beam search BART checkpoints ship), and a summary may still copy a three-token name from the dialogue;
- embeddings on a MiniLM-style BERT (mean pooling), an MPNet (mean pooling, ``<s> ... </s>``) and a BGE-style BERT
  (CLS pooling, then Normalize): CoSENT training moves the weights, LoRA on all linear layers reaches attention
  and feed-forward, trains only the adapter and merges to the same embeddings, and BGE's embeddings stay unit-length.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import yaml

from tests.e2e.test_summarization import summarization_config
from tests.metrics.test_generate import Prefer
from tests.models.encoders import build_tiny_bart, build_tiny_bge, build_tiny_mpnet
from tests.tasks.test_embedding import fit, scored_set, weights
from tests.training.helpers import CPU
from tunesmith.config import load_config
from tunesmith.data import Example
from tunesmith.metrics.generate import generate
from tunesmith.models.load import load_seq2seq_model, load_tokenizer
from tunesmith.tasks import get_task
from tunesmith.tasks.embedding import attach_lora, load_sentence_model, merge_lora, save_adapter, training_sets
from tunesmith.tasks.generative import encode_for

TEXTS = ["a red car plays", "the old tree", "Do you print banners for a street fair next week?"]


# == summaries: T5 and BART ======================================================================================
@dataclass(frozen=True)
class Seq2Seq:
    name: str
    blocks: str  # the encoder's and decoder's list of layers
    lora: frozenset[str]  # the linear layers of an attention block and a feed-forward block (all-linear LoRA)
    attention: str  # the self-attention module of a block
    cross_attention: str  # the decoder's attention over the encoder's output
    opens_with_bos: bool  # BART wraps a text in <s> ... </s>; T5 only closes it with </s>


SEQ2SEQ = {
    "t5": Seq2Seq(
        "t5", "block", frozenset({"q", "k", "v", "o", "wi", "wo"}), "SelfAttention", "EncDecAttention", False
    ),
    "bart": Seq2Seq(
        "bart",
        "layers",
        frozenset({"q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"}),
        "self_attn",
        "encoder_attn",
        True,
    ),
}


@pytest.fixture(scope="module", params=list(SEQ2SEQ))
def seq2seq(request, tmp_path_factory):
    """(Seq2Seq, model folder): the session's tiny T5, or a tiny BART built once for this module."""
    spec = SEQ2SEQ[request.param]
    if spec.name == "t5":
        return spec, request.getfixturevalue("tiny_t5_dir")
    return spec, build_tiny_bart(tmp_path_factory.mktemp("tiny_bart"))


def summaries_config(workdir, folder, epochs: int = 4):
    """The summarization config of tests/e2e/test_summarization.py (24 dialogues, batch 8), ``epochs`` passes."""
    config_file = summarization_config(workdir, folder)
    raw = yaml.safe_load(config_file.read_text())
    raw["training"]["epochs"] = epochs
    config_file.write_text(yaml.safe_dump(raw))
    return load_config(config_file)


@pytest.fixture(scope="module")
def trained_summaries(seq2seq, tmp_path_factory):
    """(bundle, run folder, TrainResult, TaskData): the summarization task's own data, plan, LoRA build and training
    (12 optimiser steps), as ``tunesmith train`` runs them, without the scoring that follows."""
    from tunesmith.runs import RunFolder

    _, folder = seq2seq
    workdir = tmp_path_factory.mktemp("summaries")
    config = summaries_config(workdir, folder)
    task = get_task("summarization")
    data = task.load_data(config)
    plan = task.plan(config, data, folder, CPU)
    bundle = task.build(config, plan, folder)
    run = RunFolder.create(workdir / "runs", "summaries")
    return bundle, run, task.train(bundle, data, plan, config, run, None), data


def test_an_encoder_decoder_reads_the_text_and_targets_the_summary(seq2seq, tmp_path):
    from tunesmith.data import load_splits
    from tunesmith.models.chat import chat_text

    spec, folder = seq2seq
    config = summaries_config(tmp_path, folder)
    example = load_splits(config.data).train[0]
    plan = {"lora_r": 4, "lora_alpha": 8, "target_modules": "all-linear"}
    bundle = get_task("summarization").build(config, plan, folder)
    tokenizer = bundle.tokenizer
    assert bundle.model.config.is_encoder_decoder
    [row] = encode_for(bundle, [example], 256, 32)
    assert tokenizer.decode(row["labels"], skip_special_tokens=True) == example.answer
    assert tokenizer.decode(row["input_ids"], skip_special_tokens=True).startswith("Summarize this dialogue:\n\nAnna:")
    for ids in (row["input_ids"], row["labels"]):  # both wrapped as the family's tokenizer wraps a text
        assert ids[-1] == tokenizer.eos_token_id and tokenizer.eos_token_id not in ids[:-1]
        assert (ids[0] == tokenizer.bos_token_id) == spec.opens_with_bos
    assert tokenizer.chat_template is None  # encoder-decoders read plain text, no chat markup
    question = Example(messages=({"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}))
    assert chat_text(tokenizer, question.messages) == "Q?\n\nA."


def test_generation_feeds_the_encoder_the_prompt_as_training_encoded_it(seq2seq, tmp_path, monkeypatch):
    """Evaluation prompts the encoder with the tokens it was trained on: BART's <s> ... </s>, T5's closing </s>."""
    from tunesmith.data import load_splits
    from tunesmith.models.chat import prompt_text

    _, folder = seq2seq
    config = summaries_config(tmp_path, folder)
    example = load_splits(config.data).train[0]
    bundle = get_task("summarization").build(
        config, {"lora_r": 4, "lora_alpha": 8, "target_modules": "all-linear"}, folder
    )
    [row] = encode_for(bundle, [example], 256, 32)
    seen, real = [], bundle.model.generate
    monkeypatch.setattr(bundle.model, "generate", lambda **kw: seen.append(kw["input_ids"][0].tolist()) or real(**kw))
    generate(bundle.model, bundle.tokenizer, [prompt_text(bundle.tokenizer, example.prompt)], 2)
    assert seen == [row["input_ids"]]


def test_all_linear_lora_reaches_attention_cross_attention_and_feed_forward(seq2seq, trained_summaries):
    spec, _ = seq2seq
    bundle = trained_summaries[0]
    adapted = {name for name, module in bundle.model.named_modules() if hasattr(module, "lora_A")}
    for stack in ("encoder", "decoder"):
        for layer in range(2):
            block = [name for name in adapted if f".{stack}.{spec.blocks}.{layer}." in name]
            assert {name.rsplit(".", 1)[-1] for name in block} == spec.lora, (stack, layer)
            assert any(f".{spec.attention}." in name for name in block)
            assert any(f".{spec.cross_attention}." in name for name in block) == (stack == "decoder")
    assert not any("lm_head" in name or "embed" in name or "shared" in name for name in adapted)


def test_tunesmith_training_lowers_the_loss(trained_summaries):
    _, run, result, _ = trained_summaries
    losses = [line["loss"] for line in map(json.loads, (run.logs_dir / "train_log.jsonl").open()) if "loss" in line]
    assert result.steps == 12 and len(losses) == 12  # 24 dialogues, batch 8, 4 epochs, a log line per step
    assert sum(losses[-2:]) / 2 < 0.7 * sum(losses[:2]) / 2  # measured: T5 6.3 -> 3.1, BART 6.8 -> 3.8
    assert (run.adapter_dir / "adapter_config.json").is_file()


def test_merged_model_has_the_logits_of_base_plus_adapter(seq2seq, trained_summaries):
    from peft import PeftModel

    from tunesmith.models.merge import merged_model

    _, folder = seq2seq
    bundle, run, _, data = trained_summaries
    [row] = encode_for(bundle, data.test[:1], 256, 32)
    inputs = {"input_ids": torch.tensor([row["input_ids"]]), "labels": torch.tensor([row["labels"]])}
    merged, _ = merged_model(folder, run.adapter_dir)
    reloaded = PeftModel.from_pretrained(load_seq2seq_model(folder), run.adapter_dir).eval()
    with torch.no_grad():
        expected = reloaded(**inputs).logits
        with reloaded.disable_adapter():
            base = reloaded(**inputs).logits
        got = merged(**inputs).logits
    assert not any("lora_" in name for name, _ in merged.named_parameters())
    assert not torch.allclose(base, expected, atol=1e-2)  # the adapter does change the logits
    assert torch.allclose(got, expected, atol=1e-4)


def _decoder_frame(model) -> tuple[int, int]:
    """(tokens before the summary's first, tokens the budget needs beyond the summary): the decoder's start token,
    and BART's forced <s> first and forced </s> at the length limit."""
    config = model.generation_config
    forced_bos, forced_eos = config.forced_bos_token_id is not None, config.forced_eos_token_id is not None
    return 1 + forced_bos, forced_bos + forced_eos


def _written(model, tokenizer, prompt: str, target: list[int], settings: dict, extra=()) -> str:
    """What tunesmith's ``generate`` writes for ``prompt`` when the model wants to write ``target``."""
    from transformers import LogitsProcessorList

    start, frame = _decoder_frame(model)
    processors = LogitsProcessorList([Prefer(target, start), *extra])
    settings = {**settings, "logits_processor": processors}
    [answer] = generate(model, tokenizer, [prompt], len(target) + frame, batch_size=4, settings=settings)
    return answer.text


@pytest.fixture(scope="module")
def base_seq2seq(seq2seq):
    _, folder = seq2seq
    return load_seq2seq_model(folder).eval(), load_tokenizer(folder)


def test_a_summary_may_repeat_a_three_token_name_from_the_dialogue(base_seq2seq):
    """The repetition guard looks at the generated tokens only: a name the dialogue holds stays copyable."""
    model, tokenizer = base_seq2seq
    prompt = "Anna: PressCrafters Printing Company prints the wedding invitations"
    name = tokenizer(" PressCrafters Printing Company", add_special_tokens=False)["input_ids"]
    assert len(name) >= 3
    for settings in ({}, {"no_repeat_ngram_size": 3}, {"no_repeat_ngram_size": 3, "num_beams": 2}):
        assert _written(model, tokenizer, prompt, name, settings) == "PressCrafters Printing Company", settings


class _Widths:
    """Records how many sequences each decoding step scores (beams times prompts)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def __call__(self, input_ids, scores):
        self.seen.add(input_ids.shape[0])
        return scores


def test_the_plans_decoding_runs_not_the_one_the_checkpoint_ships(base_seq2seq):
    """BART checkpoints ship beam search with a 3-gram ban in their generation config: a plan's greedy decoding
    without the guard must still be greedy and unguarded, and its guard and beams must be its own."""
    model, tokenizer = base_seq2seq
    phrase = tokenizer(" at the cafe", add_special_tokens=False)["input_ids"]
    assert len(phrase) >= 3
    twice = tokenizer.decode(phrase * 2).strip()
    prompt = "Anna: see you at the cafe"
    widths = _Widths()
    assert _written(model, tokenizer, prompt, phrase * 2, {}, [widths]) == twice  # no guard: the repeat is written
    assert widths.seen == {1}  # greedy: one sequence per prompt, not four beams
    widths.seen.clear()
    guarded = _written(model, tokenizer, prompt, phrase * 2, {"no_repeat_ngram_size": 3, "num_beams": 2}, [widths])
    assert guarded != twice and widths.seen == {2}


# == embeddings: MiniLM-style BERT, MPNet, BGE-style BERT ========================================================
@dataclass(frozen=True)
class Embedder:
    name: str
    lora: frozenset[str]  # the linear layers of one encoder layer, relative to it: attention and feed-forward
    normalized: bool  # a Normalize module ends the pipeline (unit-length embeddings)


BERT_LINEARS = frozenset(
    {
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
        "attention.output.dense",
        "intermediate.dense",
        "output.dense",
    }
)
MPNET_LINEARS = frozenset(
    {
        "attention.attn.q",
        "attention.attn.k",
        "attention.attn.v",
        "attention.attn.o",
        "intermediate.dense",
        "output.dense",
    }
)
EMBEDDERS = {
    "minilm": Embedder("minilm", BERT_LINEARS, normalized=False),
    "mpnet": Embedder("mpnet", MPNET_LINEARS, normalized=False),
    "bge": Embedder("bge", BERT_LINEARS, normalized=True),
}


@pytest.fixture(scope="module", params=list(EMBEDDERS))
def embedder(request, tmp_path_factory):
    """(Embedder, sentence-transformers folder, loaded base model): each built once for this module."""
    spec = EMBEDDERS[request.param]
    if spec.name == "minilm":
        folder = request.getfixturevalue("tiny_bert_dir")
    else:
        build = build_tiny_mpnet if spec.name == "mpnet" else build_tiny_bge
        folder = build(tmp_path_factory.mktemp(f"tiny_{spec.name}"))
    return spec, folder, load_sentence_model(folder)


def cosent_rows() -> dict:
    return {"cosent": training_sets(scored_set(), "cosent", False, 0.8, 2, 0)["cosent"]}


def unit_length(embeddings) -> bool:
    return bool(np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5))


def test_the_folder_loads_with_its_familys_pooling_and_tokenizer(embedder):
    from sentence_transformers.base.modules import Normalize

    spec, _, base = embedder
    tokenizer = base.tokenizer
    ids = tokenizer("PressCrafters prints")["input_ids"]
    assert (ids[0], ids[-1]) == (tokenizer.cls_token_id, tokenizer.sep_token_id)
    assert tokenizer.convert_ids_to_tokens([ids[0], ids[-1]]) == (
        ["<s>", "</s>"] if spec.name == "mpnet" else ["[CLS]", "[SEP]"]
    )
    assert base[1].pooling_mode == ("cls" if spec.name == "bge" else "mean")
    assert isinstance(base[-1], Normalize) == spec.normalized
    assert unit_length(base.encode(TEXTS)) == spec.normalized  # only the Normalize module makes them unit-length


def test_cosent_training_moves_the_weights(embedder, tmp_path):
    spec, _, base = embedder
    model = copy.deepcopy(base)
    before, encoded = weights(model), model.encode(TEXTS)
    result = fit(model, cosent_rows(), ["cosent"], tmp_path)
    assert result.steps == 6 and result.final_loss is not None and np.isfinite(result.final_loss)
    after = weights(model)
    assert any(not torch.equal(before[name], after[name]) for name in before)
    trained = model.encode(TEXTS)
    assert not np.allclose(trained, encoded, atol=1e-4)
    assert unit_length(trained) == spec.normalized


def test_all_linear_lora_reaches_attention_and_feed_forward(embedder):
    spec, _, base = embedder
    model = copy.deepcopy(base)
    attach_lora(model, r=4, alpha=8, dropout=0.0, target_modules="all-linear")
    adapted = {name for name, module in model.named_modules() if hasattr(module, "lora_A")}
    for layer in range(2):
        prefix = f"encoder.layer.{layer}."
        inside = {name.split(prefix, 1)[1] for name in adapted if prefix in name}
        assert inside == spec.lora, layer
    assert not any("embeddings" in name or "relative_attention_bias" in name for name in adapted)


def test_lora_trains_only_the_adapter_and_merges_to_the_same_embeddings(embedder, tmp_path):
    from sentence_transformers.base.modules import Normalize

    spec, folder, base = embedder
    model = copy.deepcopy(base)
    attach_lora(model, r=4, alpha=8, dropout=0.0, target_modules="all-linear")
    before = weights(model)
    fit(model, cosent_rows(), ["cosent"], tmp_path)
    after = weights(model)
    moved = {name for name in before if not torch.equal(before[name], after[name])}
    assert moved and all("lora_" in name for name in moved)
    assert any(".attention." in name for name in moved) and any(".intermediate." in name for name in moved)
    model.eval()
    adapted = model.encode(TEXTS)
    assert not np.allclose(adapted, base.encode(TEXTS), atol=1e-4)  # the adapter does change the embeddings
    save_adapter(model, tmp_path / "adapter")
    merged = merge_lora(model, folder, tmp_path / "adapter")
    assert not any("lora_" in name for name, _ in merged.named_parameters())
    assert np.allclose(merged.encode(TEXTS), adapted, atol=1e-5)
    assert isinstance(merged[-1], Normalize) == spec.normalized  # BGE keeps its Normalize module
    assert unit_length(adapted) == unit_length(merged.encode(TEXTS)) == spec.normalized
