"""Loading models for training and scoring: tokenizer, base model (decoder or encoder-decoder), a fresh LoRA
adapter, and a finished run's base with its saved adapter attached.

Code shipped in a model folder (``auto_map``: a model class transformers does not have) runs only when the run's
config says ``model.trust_remote_code: true``; otherwise every load passes ``trust_remote_code=False`` and
transformers refuses such a model (a ModelError naming the setting) instead of asking, or running it.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.errors import ModelError


@dataclass
class CausalBundle:
    """What training and evaluation need: the LoRA-wrapped model (or, fine-tuned in full, the plain model) and its
    tokenizer."""

    model: Any
    tokenizer: Any
    system_prompt: str | None
    residual_base: bool = False  # PiSSA: the adapter's start was cut out of the base, which holds the rest
    base_dir: Path | None = None  # fine-tuned in full: the base model's folder, read back for its answers
    trust_remote_code: bool = False  # the run's model.trust_remote_code, for reading base_dir back

    @property
    def full(self) -> bool:
        return self.base_dir is not None


def is_full_model(folder: Path) -> bool:
    """Whether a run's trained weights ``folder`` is a whole model (a full fine-tune), not a LoRA adapter."""
    return (Path(folder) / "config.json").is_file() and not (Path(folder) / "adapter_config.json").is_file()


@contextmanager
def base_weights(bundle: CausalBundle):
    """The bundle's model answers as its base for the duration: its adapter off or, fine-tuned in full, the base
    weights loaded into it (the trained ones are kept aside in memory and put back after)."""
    if not bundle.full:
        with bundle.model.disable_adapter():
            yield
        return
    import torch

    model = bundle.model
    trained = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    base = load_either_model(bundle.base_dir, bundle.trust_remote_code).state_dict()
    with torch.no_grad():
        model.load_state_dict(base, strict=False)
    del base
    try:
        yield
    finally:
        with torch.no_grad():
            model.load_state_dict(trained, strict=False)


def is_encoder_decoder(folder: Path) -> bool:
    import json

    config = Path(folder) / "config.json"
    return config.is_file() and bool(json.loads(config.read_text()).get("is_encoder_decoder"))


def check_remote_code(folder: Path, trust_remote_code: bool) -> None:
    """Refuse, before anything is loaded, a model whose architecture only the folder's own code defines
    (config.json's ``auto_map`` with a ``model_type`` transformers does not know) unless the config trusts it.
    A model that ships code for an architecture transformers has since adopted (Phi-3 did) loads without it.

    Raises:
        ModelError: such a folder, ``trust_remote_code`` off.
    """
    import json

    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    path = Path(folder) / "config.json"
    config = json.loads(path.read_text()) if path.is_file() else {}
    modules = sorted({str(ref).split(".")[0] + ".py" for ref in (config.get("auto_map") or {}).values()})
    if modules and config.get("model_type") not in CONFIG_MAPPING_NAMES and not trust_remote_code:
        raise ModelError(
            f"{folder}: the model's architecture ({config.get('model_type')!r}) is Python code shipped with it "
            f"({', '.join(modules)}), which transformers would have to run: trust_remote_code is off. "
            + _REMOTE_CODE_HINT
        )


def load_tokenizer(folder: Path, trust_remote_code: bool = False):
    """The model's tokenizer, padded with its end-of-text token where it has no pad token.

    A decoder-only model without a chat template (a base model) gets tunesmith's default one
    (:data:`tunesmith.models.chat.DEFAULT_CHAT_TEMPLATE`; the plan says so, see
    :func:`tunesmith.plan.model_info.has_chat_template`); it is saved with the adapter and exports, so the tuned
    model is prompted as it was trained. Encoder-decoders keep none: they read plain text.
    """
    from transformers import AutoTokenizer

    from tunesmith.models.chat import DEFAULT_CHAT_TEMPLATE

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except Exception as err:  # noqa: BLE001 - one clear message instead of a deep traceback
        raise ModelError(f"{folder}: cannot load the tokenizer: {_remote_code_hint(err)}") from err
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


def load_base_model(folder: Path, trust_remote_code: bool = False):
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(folder, dtype="float32", trust_remote_code=trust_remote_code)
    except Exception as err:  # noqa: BLE001 - one clear message instead of a deep traceback
        raise ModelError(f"{folder}: cannot load the model: {_remote_code_hint(err)}") from err


def load_seq2seq_model(folder: Path, trust_remote_code: bool = False):
    from transformers import AutoModelForSeq2SeqLM

    try:
        return AutoModelForSeq2SeqLM.from_pretrained(folder, dtype="float32", trust_remote_code=trust_remote_code)
    except Exception as err:  # noqa: BLE001 - one clear message instead of a deep traceback
        raise ModelError(f"{folder}: cannot load the encoder-decoder model: {_remote_code_hint(err)}") from err


def load_either_model(folder: Path, trust_remote_code: bool = False):
    """The folder's model, encoder-decoder or decoder-only, as its config.json says."""
    load = load_seq2seq_model if is_encoder_decoder(folder) else load_base_model
    return load(folder, trust_remote_code)


def _remote_code_hint(err: Exception) -> str:
    """transformers' message, with the tunesmith setting that allows a folder's own code where that is the cause."""
    text = str(err)
    return f"{text} ({_REMOTE_CODE_HINT})" if "trust_remote_code" in text else text


_REMOTE_CODE_HINT = (
    "tunesmith runs a model folder's own code only when the config says `model: {trust_remote_code: true}` "
    "(`tunesmith serve --trust-remote-code` for a plain folder); set it only for code you trust"
)


# PEFT's PiSSA start by a fast SVD (4 subspace iterations; seconds where a full SVD of a 1.5B model takes minutes),
# random but drawn after the run's set_seed, so a resumed run cuts the same residual base.
PISSA_INIT = "pissa_niter_4"


def add_lora(model, r: int, alpha: float, dropout: float, target_modules, task_type: str = "CAUSAL_LM", **options):
    """A fresh PEFT LoRA adapter; ``options`` are further peft.LoraConfig settings (use_dora, use_rslora,
    init_lora_weights: PISSA_INIT)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules, task_type=task_type, **options
    )
    return get_peft_model(model, config)


def save_adapter(model, folder: Path, state_dict: dict | None = None, initial: Path | None = None) -> None:
    """The model's adapter saved to ``folder`` (a plain model, fine-tuned in full: the whole model); with
    ``initial`` (the adapter as it started, PiSSA) converted to a plain LoRA adapter of twice the rank on the
    untouched base (PEFT's path_initial_model_for_weight_conversion). PEFT rewrites the initial adapter's config
    while converting, so it reads a scratch copy."""
    import shutil
    import tempfile

    if initial is None:
        model.save_pretrained(folder, state_dict=state_dict)
        return
    with tempfile.TemporaryDirectory() as scratch:
        start = Path(scratch) / "initial"
        shutil.copytree(initial, start)
        model.save_pretrained(folder, state_dict=state_dict, path_initial_model_for_weight_conversion=str(start))


def load_trained_model(
    folder: Path, adapter: Path, system_prompt: str | None, trust_remote_code: bool = False
) -> CausalBundle:
    """A finished run's model: its base (either family) with the saved adapter attached, or, where ``adapter`` is a
    whole model (:func:`is_full_model`: the run fine-tuned every weight), that model, ``folder`` its base."""
    tokenizer = load_tokenizer(folder, trust_remote_code)
    prompt = None if is_encoder_decoder(folder) else system_prompt
    if is_full_model(adapter):
        model = load_either_model(adapter, trust_remote_code)
        return CausalBundle(model, tokenizer, prompt, base_dir=Path(folder), trust_remote_code=trust_remote_code)
    from peft import PeftModel

    model = PeftModel.from_pretrained(load_either_model(folder, trust_remote_code), adapter)
    return CausalBundle(model, tokenizer, prompt)


def build_causal(
    folder: Path, plan, lora_dropout: float, system_prompt: str | None, trust_remote_code: bool = False, **options
) -> CausalBundle:
    """Load the decoder from ``folder`` and wrap it with a fresh LoRA adapter shaped by the plan (``options``:
    see :func:`add_lora`); the plan's ``method`` 'full' trains the plain model, every weight."""
    tokenizer = load_tokenizer(folder, trust_remote_code)
    model = load_base_model(folder, trust_remote_code)
    if _full(plan):
        _freeze_embeddings(model, plan)
        return CausalBundle(
            model, tokenizer, system_prompt, base_dir=Path(folder), trust_remote_code=trust_remote_code
        )
    model = add_lora(model, plan["lora_r"], plan["lora_alpha"], lora_dropout, plan["target_modules"], **options)
    return CausalBundle(model, tokenizer, system_prompt, _cuts_the_base(options))


def build_seq2seq(folder: Path, plan, lora_dropout: float, trust_remote_code: bool = False, **options) -> CausalBundle:
    """Load the encoder-decoder from ``folder`` (the prompt's text goes to the encoder, the answer is the decoder's
    target) and wrap it with a fresh LoRA adapter shaped by the plan (``method`` 'full': no adapter)."""
    model = load_seq2seq_model(folder, trust_remote_code)
    tokenizer = load_tokenizer(folder, trust_remote_code)
    if _full(plan):
        _freeze_embeddings(model, plan)
        return CausalBundle(model, tokenizer, None, base_dir=Path(folder), trust_remote_code=trust_remote_code)
    shape = (plan["lora_r"], plan["lora_alpha"], lora_dropout, plan["target_modules"])
    model = add_lora(model, *shape, "SEQ_2_SEQ_LM", **options)
    return CausalBundle(model, tokenizer, None, _cuts_the_base(options))


def _full(plan) -> bool:
    return plan.get("method", "lora") == "full"  # plans written before the choice existed trained LoRA


def _freeze_embeddings(model, plan) -> None:
    """The plan's ``freeze_embeddings``: the input embeddings (and an output layer tied to them) stay frozen."""
    if plan.get("freeze_embeddings"):
        model.get_input_embeddings().weight.requires_grad_(False)


def _cuts_the_base(options: dict) -> bool:
    return str(options.get("init_lora_weights", "")).startswith("pissa")
