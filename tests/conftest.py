"""Shared fixtures: a tiny Llama with a locally trained tokenizer (no download), and an isolated TUNESMITH_HOME."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "tunesmith" / "samples" / "presscrafters"
BENCH = Path(__file__).resolve().parents[1] / "bench"


def load_bench(filename: str):
    """A bench script as a module. The benches import their helpers as top-level modules (bench/ is on sys.path
    when one is run as a script): bench/ is on the path while it loads, and the helpers are forgotten after."""
    import importlib.util
    import sys

    helpers = {path.stem for path in BENCH.glob("*.py")}
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH))
        spec = importlib.util.spec_from_file_location(f"bench_{Path(filename).stem}", BENCH / filename)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name in helpers & set(sys.modules):
            sys.modules.pop(name)
    return module


CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("TUNESMITH_HOME", str(tmp_path_factory.mktemp("tunesmith_home")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")


def _corpus() -> list[str]:
    texts = []
    for name in ("train.jsonl", "valid.jsonl", "test.jsonl"):
        for line in (SAMPLES / name).read_text().splitlines():
            record = json.loads(line)
            texts += [record["question"], record["answer"]]
    return texts


def build_tiny_tokenizer(vocab_size: int = 600):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    core = Tokenizer(models.BPE(unk_token=None))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    core.train_from_iterator(_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHATML
    return tokenizer


def build_tiny_llama(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        initializer_range=0.2,  # frozen embeddings this small would cap the logits LoRA can reach
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_tiny_t5(folder: Path, seed: int = 0) -> Path:
    """A 2-layer T5 whose tokenizer ends every text with its end token, as T5's own does; no chat template."""
    import torch
    from tokenizers.processors import TemplateProcessing
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = build_tiny_tokenizer()
    tokenizer.chat_template = None
    eos = tokenizer.eos_token
    tokenizer._tokenizer.post_processor = TemplateProcessing(
        single=f"$A {eos}", special_tokens=[(eos, tokenizer.eos_token_id)]
    )
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=48,
        d_ff=96,
        d_kv=12,
        num_layers=2,
        num_heads=4,
        decoder_start_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_factor=1.0,
    )
    torch.manual_seed(seed)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory) -> Path:
    return build_tiny_t5(tmp_path_factory.mktemp("tiny_t5"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer Llama (~40k parameters) saved as a normal model folder."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


@pytest.fixture
def qa_records() -> list[dict]:
    return [json.loads(line) for line in (SAMPLES / "train.jsonl").read_text().splitlines()]


def train_tiny_run(workdir: Path, model_dir: Path, lora: dict | None = None, **sections) -> Path:
    """Train a finished tunesmith run on the tiny Llama in a few seconds (24 examples, 2 epochs); its folder.
    ``lora`` adds settings to the config's lora section (``training: {method: full}``: no lora section), and
    ``sections`` to the others (a top-level setting such as ``continue_from`` as it is)."""
    import yaml

    from tunesmith.config import config_from_dict
    from tunesmith.pipeline import train_run

    records = [json.loads(line) for line in (SAMPLES / "train.jsonl").read_text().splitlines()]
    write_jsonl(workdir / "train.jsonl", records[:24])
    write_jsonl(workdir / "test.jsonl", records[24:28])
    raw = {
        "name": "tiny",
        "model": {"name": str(model_dir), "system_prompt": "You answer for PressCrafters."},
        "data": {"train": str(workdir / "train.jsonl"), "test": str(workdir / "test.jsonl"), "valid_fraction": 0.0},
        "lora": {"r": 8, "alpha": 16, **(lora or {})},
        # batch fixed: the GGUF test's tokens must not depend on the plan's micro-batch rule (close logits)
        "training": {"epochs": 2, "bf16": False, "learning_rate": 3e-2, "batch_size": 8},
        "evaluation": {"max_new_tokens": 8, "compare_base": False},
        "output": {"runs_dir": str(workdir / "runs"), "save_checkpoints": False},
    }
    for name, settings in sections.items():
        raw[name] = {**raw.get(name, {}), **settings} if isinstance(settings, dict) else settings
    if raw["training"].get("method") == "full":
        del raw["lora"]
    (workdir / "run.yaml").write_text(yaml.safe_dump(raw))
    return train_run(config_from_dict(raw, str(workdir / "run.yaml"))).path


@pytest.fixture(scope="session")
def tiny_run_dir(tmp_path_factory, tiny_model_dir) -> Path:
    """A finished run (adapter, config, plan, run.json) of the tiny Llama, trained once per test session."""
    return train_tiny_run(tmp_path_factory.mktemp("tiny_run"), tiny_model_dir)


def build_tiny_bert(folder: Path, seed: int = 0, pooling: str = "mean", normalize: bool = False) -> Path:
    """A 2-layer BERT (hidden 32) with a locally trained WordPiece tokenizer, saved as a sentence-transformers
    folder with mean pooling (or ``pooling``), then a Normalize module where ``normalize``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer, pre_tokenizer = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    # The vocabulary is counted here rather than by tokenizers' WordPieceTrainer, whose ties fall in a different
    # order in each process (a Rust hash map): tests' similarity figures must not change between runs.
    counts = Counter(
        word for text in _corpus() for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))
    )
    chars = sorted({c for word in counts for c in word})
    vocab = specials + chars + [f"##{c}" for c in chars]
    vocab += [w for w, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if w not in vocab]
    core = Tokenizer(models.WordPiece({token: i for i, token in enumerate(vocab[:800])}, unk_token="[UNK]"))
    core.normalizer, core.pre_tokenizer = normalizer, pre_tokenizer
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", core.token_to_id("[CLS]")), ("[SEP]", core.token_to_id("[SEP]"))],
    )
    tokenizer = BertTokenizerFast(tokenizer_object=core, do_lower_case=True)
    config = BertConfig(
        vocab_size=core.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=core.token_to_id("[PAD]"),
    )
    torch.manual_seed(seed)
    transformer_dir = folder / "transformer"
    BertModel(config).save_pretrained(transformer_dir)
    tokenizer.save_pretrained(transformer_dir)
    modules = [Transformer(str(transformer_dir), max_seq_length=64), Pooling(32, pooling)]
    if normalize:  # as BAAI/bge-* models ship: unit-length embeddings
        from sentence_transformers.base.modules import Normalize

        modules.append(Normalize())
    SentenceTransformer(modules=modules).save(str(folder / "st"))
    return folder / "st"


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A tiny BERT sentence-transformers folder (~60k parameters), 32-dimensional embeddings."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


def require_llama_cpp():
    """llama-cpp-python (llama.cpp itself, which `make test` compiles): skipped where it is not installed, a
    failure where TUNESMITH_REQUIRE_LLAMA_CPP is set (CI), so that no GGUF check is silently skipped there."""
    import importlib.util
    import os

    if importlib.util.find_spec("llama_cpp") is None:
        if os.environ.get("TUNESMITH_REQUIRE_LLAMA_CPP"):
            pytest.fail("llama-cpp-python is missing: `make test` compiles it from its source archive")
        pytest.skip("llama-cpp-python is not installed (make test compiles it)")
    import llama_cpp

    return llama_cpp


def launch_chromium(playwright):
    """Debian's Chromium (which `make test` installs) launched headless through playwright: skipped where it is
    missing, a failure where TUNESMITH_REQUIRE_BROWSER is set (CI)."""
    import os
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("TUNESMITH_REQUIRE_BROWSER"):
            pytest.fail("Chromium is missing: `make test` installs Debian's chromium package when it can")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
