"""An INT8 copy of a fine-tuned sentence-embedding model for CPUs, in sentence-transformers' ONNX layout.

``model-int8/`` is the model's sentence-transformers folder without its torch weights, plus:

    onnx/model.onnx                    the Transformer module exported to ONNX (fp32; inputs ``input_ids``,
                                       ``attention_mask`` [, ``token_type_ids``], output ``last_hidden_state``)
    onnx/model_qint8_avx512_vnni.onnx  that graph dynamically quantised to INT8 (int8 weights per channel,
                                       uint8 activations quantised on the fly): onnxruntime's dynamic
                                       quantisation with the settings of optimum's ``avx512_vnni`` config
    int8.json                          which file is the INT8 one, and how it was made

This is the layout and these are the file names and quantisation settings that sentence-transformers'
``export_dynamic_quantized_onnx_model(model, "avx512_vnni", folder)`` writes (compared file for file), so the folder
loads with ``SentenceTransformer(folder, backend="onnx", model_kwargs={"file_name":
"onnx/model_qint8_avx512_vnni.onnx"})`` where optimum's ONNX Runtime models are installed, and the file runs in a
plain ``onnxruntime.InferenceSession`` (then pool as ``1_Pooling/config.json`` says). It is made here with
``torch.onnx`` and ``onnxruntime.quantization`` rather than through optimum, and read back by :func:`load_int8`
(sentence-transformers' own tokenizer, pooling and normalisation; the Transformer module runs the ONNX file in
onnxruntime), because optimum-onnx 0.1.0, its newest release, requires transformers < 4.58.

``avx512_vnni`` (signed int8 weights, full 8-bit range) rather than ``avx2`` (unsigned weights) or ``arm64``: it is
the config for x86 CPUs with AVX512-VNNI (Intel Xeons since Cascade Lake, AMD since Zen 4), such as the one the
README's INT8 figures were measured on. The config picks integer types and ranges, not kernels: the file runs on
any CPU onnxruntime supports, though x86 CPUs without VNNI can saturate on signed weights (why optimum's ``avx2``
config exists).

Older tunesmith versions wrote ``model-int8/`` as a pickled torch state (``int8_state.pt``); that format is not
read any more (unpickling can run code): :func:`load_int8` says how to rebuild the folder from ``model/``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path

import torch

from tunesmith.atomic import replace_folder, save_folder, write_json
from tunesmith.errors import ModelError

ONNX_FILE = "onnx/model.onnx"
INT8_FILE = "onnx/model_qint8_avx512_vnni.onnx"
INFO_FILE = "int8.json"
OLD_STATE_FILE = "int8_state.pt"  # the torch-pickle format of tunesmith before the ONNX one
WEIGHT_PATTERNS = ("*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin")
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 18
SAMPLE_TEXTS = ["a short sentence to trace the model with", "and a second, longer one, so that padding shows"]

_LOADER_LOCK = threading.Lock()


def export_int8(model, target: Path) -> None:
    """Write ``target`` atomically: ``model`` (a SentenceTransformer) as ONNX, fp32 and dynamically quantised INT8.

    Raises:
        ModelError: the model's first module is not a transformers model (nothing to export to ONNX).
    """
    _require_transformer(model)
    save_folder(Path(target), lambda folder: _write_int8(model, folder))


def _require_transformer(model) -> None:
    from sentence_transformers.base.modules import Transformer

    if not isinstance(model[0], Transformer):
        raise ModelError(f"the INT8 copy needs a Transformer first module, not {type(model[0]).__name__}")


def _write_int8(model, folder: Path) -> None:
    model.save(str(folder))
    for pattern in WEIGHT_PATTERNS:  # the ONNX files hold the weights; the torch ones would double the folder
        for path in folder.glob(pattern):
            path.unlink()
    (folder / "onnx").mkdir()
    inputs = export_onnx(model, folder / ONNX_FILE)
    quantize_onnx(folder / ONNX_FILE, folder / INT8_FILE)
    write_json(folder / INFO_FILE, int8_info(inputs))


def int8_info(inputs: list[str]) -> dict:
    import onnxruntime

    return {
        "format": "onnx",
        "file_name": INT8_FILE,
        "fp32_file_name": ONNX_FILE,
        "inputs": inputs,
        "output": "last_hidden_state",
        "opset": OPSET,
        "quantization": "onnxruntime dynamic quantisation (IntegerOps), QInt8 weights per channel, symmetric, full "
        "range; QUInt8 activations (optimum's avx512_vnni config)",
        "onnxruntime": onnxruntime.__version__,
        "load": f"SentenceTransformer(folder, backend='onnx', model_kwargs={{'file_name': '{INT8_FILE}'}})",
    }


def export_onnx(model, path: Path) -> list[str]:
    """The model's Transformer module (fp32, on the CPU) as an ONNX graph with dynamic batch and sequence axes;
    returns its input names. The model itself is left as it was (device, dtype, train/eval mode)."""
    import copy
    import inspect

    encoder = model[0].auto_model
    if encoder.device.type != "cpu" or encoder.dtype != torch.float32:
        encoder = copy.deepcopy(encoder).to("cpu", torch.float32)
    accepted = set(inspect.signature(encoder.forward).parameters)
    tokens = model.tokenizer(SAMPLE_TEXTS, padding=True, return_tensors="pt")
    names = [name for name in INPUT_NAMES if name in tokens and name in accepted]

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
            return self.inner(**{name: given[name] for name in names}, return_dict=True).last_hidden_state

    batch, sequence = torch.export.Dim("batch_size"), torch.export.Dim("sequence_length")
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad(), _quiet():
            torch.onnx.export(
                LastHiddenState(encoder),
                (),
                str(path),
                kwargs={name: tokens[name] for name in names},
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_shapes={name: {0: batch, 1: sequence} for name in names},
                opset_version=OPSET,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    finally:
        encoder.train(was_training)
    return names


def quantize_onnx(source: Path, target: Path) -> None:
    """Dynamic INT8 quantisation of every quantisable operator (MatMul, Gather, Attention, ...) of ``source``, with
    the settings of optimum's ``AutoQuantizationConfig.avx512_vnni(is_static=False)``, as sentence-transformers'
    ``export_dynamic_quantized_onnx_model(model, "avx512_vnni", ...)`` applies them."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    with _quiet():
        quantize_dynamic(
            str(source),
            str(target),
            op_types_to_quantize=list(IntegerOpsRegistry),
            per_channel=True,
            reduce_range=False,
            weight_type=QuantType.QInt8,
            extra_options={
                "WeightSymmetric": True,
                "ActivationSymmetric": False,
                "EnableSubgraph": False,
                "ForceSymmetric": False,
            },
        )


def load_int8(folder: Path, file_name: str = INT8_FILE):
    """The SentenceTransformer of ``model-int8/`` (``SentenceTransformer(folder, backend="onnx", ...)``), its
    Transformer module running ``file_name`` in onnxruntime on the CPU.

    Raises:
        ModelError: the folder is in the old torch-pickle format, or has no such ONNX file.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import transformer

    folder = Path(folder)
    if (folder / OLD_STATE_FILE).is_file():
        raise ModelError(
            f"{folder} is an INT8 copy in tunesmith's old format (a pickled torch state), which is no longer "
            "loaded: unpickling can run code, and nothing but tunesmith could read it. Rebuild it as ONNX from the "
            "run's fp32 model with: python -c \"from tunesmith.models.int8 import rebuild_int8; "
            f"rebuild_int8('{folder.parent}')\""
        )
    if not (folder / file_name).is_file():
        raise ModelError(f"{folder}: no {file_name}; not an ONNX INT8 copy written by tunesmith")
    with _LOADER_LOCK:
        original, transformer.load_onnx_model = transformer.load_onnx_model, load_onnx_session
        try:
            return SentenceTransformer(
                str(folder),
                device="cpu",
                backend="onnx",
                model_kwargs={"file_name": file_name},
                local_files_only=True,
            )
        finally:
            transformer.load_onnx_model = original


def rebuild_int8(run_folder: Path) -> Path:
    """Write ``model-int8/`` of a finished embedding run afresh, as ONNX, from its fp32 ``model/`` folder (for runs
    whose INT8 copy is in the old torch-pickle format, which is never unpickled here). The new folder is complete
    before it takes the old one's place; the scores in metrics.json are left as they were."""
    from sentence_transformers import SentenceTransformer

    run_folder = Path(run_folder)
    source, target = run_folder / "model", run_folder / "model-int8"
    if not (source / "modules.json").is_file():
        raise ModelError(f"{run_folder}: no sentence-transformers model/ folder to build the INT8 copy from")
    model = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    _require_transformer(model)
    replace_folder(target, lambda folder: _write_int8(model, folder))
    return target


def load_onnx_session(model_name_or_path: str, config, task_name: str, **model_kwargs):
    """Stands in for sentence-transformers' ``load_onnx_model`` (optimum) while :func:`load_int8` loads: the same
    arguments, an already exported file read with onnxruntime, never an export."""
    if task_name != "feature-extraction":
        raise ModelError(f"tunesmith's ONNX loader reads feature-extraction models, not {task_name}")
    path = Path(model_name_or_path, model_kwargs.get("subfolder") or "", model_kwargs["file_name"])
    return OnnxFeatureExtractor(path, config)


class OnnxFeatureExtractor(torch.nn.Module):
    """A transformers-like encoder whose forward runs an ONNX graph in onnxruntime (CPU): it feeds the inputs the
    graph declares and returns ``last_hidden_state`` as a torch tensor."""

    def __init__(self, path: Path, config) -> None:
        import onnxruntime

        super().__init__()
        self.config = config
        self.path = Path(path)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [node.name for node in self.session.get_inputs()]

    def forward(self, **features):
        from transformers.modeling_outputs import BaseModelOutput

        if "token_type_ids" in self.input_names and "token_type_ids" not in features:
            features["token_type_ids"] = torch.zeros_like(features["input_ids"])
        feeds = {name: features[name].detach().cpu().numpy().astype("int64") for name in self.input_names}
        [hidden] = self.session.run(["last_hidden_state"], feeds)
        return BaseModelOutput(last_hidden_state=torch.from_numpy(hidden))

    def save_pretrained(self, *args, **kwargs) -> None:
        raise ModelError(f"{self.path} is an exported ONNX file: copy its folder rather than saving the model")


@contextlib.contextmanager
def _quiet():
    """Silence the exporter's progress lines and warnings (torchvision ops it skips) and onnxruntime's advice to
    pre-process a model before quantising it."""
    import io
    import warnings

    loggers = [logging.getLogger(), logging.getLogger("torch.onnx")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def texts_per_second(model, texts: list[str], batch_size: int = 64, rounds: int = 2) -> float:
    """Encoding throughput, best of ``rounds`` passes after one warm-up batch."""
    model.encode(texts[:batch_size], batch_size=batch_size)
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        model.encode(texts, batch_size=batch_size)
        best = max(best, len(texts) / (time.perf_counter() - started))
    return best
