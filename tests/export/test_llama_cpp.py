"""llama.cpp's converter kept from llama-cpp-python's source archive, its absence a clear error, and its quantizer."""

from __future__ import annotations

import io
import sys
import tarfile

import pytest

from tests.conftest import require_llama_cpp
from tunesmith.errors import ExportError
from tunesmith.export import llama_cpp
from tunesmith.export.gguf import gguf_type


def fake_sdist(path, with_converter: bool = True):
    path.parent.mkdir(parents=True, exist_ok=True)
    root = "llama_cpp_python-0.3.36/vendor/llama.cpp/"
    files = {
        root + "conversion/__init__.py": "",
        root + "gguf-py/gguf/__init__.py": "",
        root + "LICENSE": "MIT",
        root + "ggml/src/ggml.c": "int x;",  # not kept: only the converter's pieces are
        "llama_cpp_python-0.3.36/llama_cpp/__init__.py": "",
    }
    if with_converter:
        files[root + "convert_hf_to_gguf.py"] = "print('converter')"
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_the_converter_is_unpacked_from_the_source_archive_alone(tmp_path, monkeypatch):
    target = llama_cpp.install_converter(fake_sdist(tmp_path / "llama_cpp_python-0.3.36.tar.gz"), tmp_path / "kept")
    kept = sorted(str(path.relative_to(target)) for path in target.rglob("*") if path.is_file())
    assert kept == ["LICENSE", "conversion/__init__.py", "convert_hf_to_gguf.py", "gguf-py/gguf/__init__.py"]
    monkeypatch.setenv(llama_cpp.CONVERTER_ENV, str(target))
    assert llama_cpp.converter_dir() == target
    again = llama_cpp.install_converter(fake_sdist(tmp_path / "llama_cpp_python-0.3.36.tar.gz"), target)
    assert again == target and (target / "convert_hf_to_gguf.py").is_file()  # reinstalling replaces it whole


def test_an_archive_without_the_converter_is_refused_and_the_installed_one_kept(tmp_path):
    sdist = fake_sdist(tmp_path / "llama_cpp_python-0.3.36.tar.gz", with_converter=False)
    with pytest.raises(ExportError, match="no vendor/llama.cpp/convert_hf_to_gguf.py"):
        llama_cpp.install_converter(sdist, tmp_path / "kept")
    assert not (tmp_path / "kept").exists()
    archive = fake_sdist(tmp_path / "good" / "llama_cpp_python-0.3.36.tar.gz")
    good = llama_cpp.install_converter(archive, tmp_path / "kept")
    with pytest.raises(ExportError, match="no vendor/llama.cpp/convert_hf_to_gguf.py"):
        llama_cpp.install_converter(sdist, good)
    assert (good / "convert_hf_to_gguf.py").read_text() == "print('converter')"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["good", "kept", "llama_cpp_python-0.3.36.tar.gz"]


def test_a_missing_converter_names_the_command_that_installs_it(tmp_path, monkeypatch):
    monkeypatch.setenv(llama_cpp.CONVERTER_ENV, str(tmp_path))
    with pytest.raises(ExportError, match=r"-m tunesmith.export.llama_cpp` \(or `make install`\)"):
        llama_cpp.converter_dir()


def test_gguf_types_are_named_in_either_case_and_unknown_ones_refused():
    assert gguf_type("Q4_K_M") == "q4_k_m" and gguf_type("q8_0") == "q8_0"
    with pytest.raises(ExportError, match="must be one of f16, bf16, q8_0, q4_k_m, q5_k_m, q6_k, not 'q3'"):
        gguf_type("q3")


def test_quantizing_without_llama_cpp_python_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import fails as if it were not installed
    with pytest.raises(ExportError, match="pip install llama-cpp-python==0.3.36"):
        llama_cpp.quantize(tmp_path / "in.gguf", tmp_path / "out.gguf", "q4_k_m")


def test_q4_k_m_is_made_by_llama_cpps_quantizer_and_runs_in_llama_cpp(tiny_run_dir, tmp_path):
    from gguf import GGUFReader

    from tunesmith.export import export_run

    Llama = require_llama_cpp().Llama
    path = export_run(tiny_run_dir, "gguf", tmp_path / "tiny-q4.gguf", "q4_K_M")
    fields = {name: field.contents() for name, field in GGUFReader(path).fields.items()}
    assert fields["general.file_type"] == 15  # LLAMA_FTYPE_MOSTLY_Q4_K_M
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-q4.gguf"]  # the f16 step left nothing behind
    llm = Llama(model_path=str(path), n_ctx=256, n_threads=1, verbose=False, seed=0)
    ids = llm.tokenize(b"<|im_start|>user\nWhen do you open?<|im_end|>\n<|im_start|>assistant\n", special=True)
    assert len(list(zip(range(4), llm.generate(ids, top_k=1, temp=0.0, reset=True)))) == 4
