"""llama.cpp's own converter and quantizer, used for every GGUF tunesmith writes.

The converter (convert_hf_to_gguf.py, its ``conversion`` package and the gguf-py it is written against) is not on
PyPI as a package; it ships inside llama-cpp-python's source distribution, whose version is pinned here so that
the converter and the llama.cpp that checks its files (llama-cpp-python, built from the same archive) agree.
``python -m tunesmith.export.llama_cpp`` fetches that archive from PyPI (or takes ``--sdist FILE``) and keeps the
three pieces under the environment's ``share/tunesmith``; ``make install`` does it.

The converter runs in its own interpreter (:mod:`tunesmith.export.convert_hf`) because its gguf-py is newer than
the ``gguf`` release transformers reads GGUF files with; the two cannot share one process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from tunesmith.atomic import replace_folder
from tunesmith.errors import ExportError

LLAMA_CPP_PYTHON = "0.3.36"
CONVERTER_ENV = "TUNESMITH_LLAMA_CPP"  # a folder holding convert_hf_to_gguf.py, conversion/ and gguf-py/
PIECES = ("convert_hf_to_gguf.py", "conversion", "gguf-py", "LICENSE")
# The types llama.cpp's converter writes itself, and those its quantizer makes from an f16 file.
CONVERTER_TYPES = ("f16", "bf16", "q8_0")
QUANTIZER_TYPES = ("q4_k_m", "q5_k_m", "q6_k")
GGUF_TYPES = CONVERTER_TYPES + QUANTIZER_TYPES
INSTALL_HINT = f"`{Path(sys.executable).name} -m tunesmith.export.llama_cpp` (or `make install`)"


def default_dir() -> Path:
    return Path(sys.prefix) / "share" / "tunesmith" / f"llama.cpp-{LLAMA_CPP_PYTHON}"


def converter_dir() -> Path:
    """The folder holding llama.cpp's converter.

    Raises:
        ExportError: it is not installed (names the command that installs it).
    """
    folder = Path(os.environ.get(CONVERTER_ENV) or default_dir())
    if not (folder / "convert_hf_to_gguf.py").is_file() or not (folder / "conversion").is_dir():
        raise ExportError(
            f"llama.cpp's GGUF converter is not installed ({folder} holds no convert_hf_to_gguf.py); install it "
            f"with {INSTALL_HINT}, or point {CONVERTER_ENV} at a llama.cpp checkout"
        )
    return folder


def install_converter(sdist: Path | None = None, target: Path | None = None) -> Path:
    """Unpack the converter from llama-cpp-python's source archive (downloaded from PyPI when ``sdist`` is None)."""
    target = Path(target or default_dir())
    with tempfile.TemporaryDirectory() as scratch:
        if sdist is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--quiet"]
                + ["--dest", scratch, f"llama-cpp-python=={LLAMA_CPP_PYTHON}"],
                check=True,
            )
            sdist = next(Path(scratch).glob("llama_cpp_python-*.tar.gz"))
        prefix = f"{Path(sdist).name.removesuffix('.tar.gz')}/vendor/llama.cpp/"
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if _wanted(m.name, prefix) and (m.isfile() or m.isdir())]
            if not any(m.name == prefix + "convert_hf_to_gguf.py" for m in members):
                raise ExportError(f"{sdist}: no vendor/llama.cpp/convert_hf_to_gguf.py in this archive")
            archive.extractall(scratch, members=members, filter="data")
        replace_folder(target, lambda folder: shutil.copytree(Path(scratch) / prefix, folder, dirs_exist_ok=True))
    return target


def _wanted(name: str, prefix: str) -> bool:
    if not name.startswith(prefix):
        return False
    return name[len(prefix) :].split("/")[0] in PIECES


def convert(model_dir: Path, out: Path, weights: str, pre_tokenizer: str | None = None, name: str | None = None):
    """Run llama.cpp's converter on a Hugging Face folder, writing ``out`` (the caller stages it).

    ``pre_tokenizer`` is used only where the converter does not recognise the tokenizer's pre-tokenizer from its
    hash of a probe text (a tokenizer trained or edited locally): llama.cpp's name read from tokenizer.json.
    """
    if weights not in CONVERTER_TYPES:
        raise ExportError(f"llama.cpp's converter writes {', '.join(CONVERTER_TYPES)}, not '{weights}'")
    driver = Path(__file__).with_name("convert_hf.py")
    command = [sys.executable, str(driver), str(converter_dir()), pre_tokenizer or "", str(model_dir)]
    command += ["--outfile", str(out), "--outtype", weights]
    if name:
        command += ["--model-name", name]
    failed = _run_showing_progress(command, f"llama.cpp's converter: {weights} GGUF of {name or model_dir}")
    if failed is not None or not Path(out).is_file():
        raise ExportError(f"llama.cpp's converter could not convert the model: {(failed or ['no output'])[-1]}")


def _run_showing_progress(command: list[str], title: str) -> list[str] | None:
    """Run ``command``, showing its latest log line under ``title`` (on a terminal); its output lines if it failed."""
    from collections import deque

    from rich.console import Console

    lines: deque[str] = deque(maxlen=50)
    with Console(stderr=True).status(title) as status:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in process.stderr:
            if line.strip():
                lines.append(line.rstrip())
                status.update(f"{title}: {line.strip()[:100]}")
        code = process.wait()
    return list(lines) if code else None


def quantize(source: Path, out: Path, weights: str, threads: int | None = None) -> None:
    """llama.cpp's quantizer (through llama-cpp-python) from an f16 GGUF to ``weights`` (q4_k_m, ...).

    Raises:
        ExportError: llama-cpp-python is not installed, or llama.cpp refused the file.
    """
    if weights not in QUANTIZER_TYPES:
        raise ExportError(f"llama.cpp's quantizer makes {', '.join(QUANTIZER_TYPES)} here, not '{weights}'")
    try:
        import llama_cpp
    except ImportError as error:
        raise ExportError(
            f"GGUF {weights} needs llama.cpp's quantizer: pip install llama-cpp-python=={LLAMA_CPP_PYTHON} "
            "(compiles llama.cpp), or export f16 / q8_0"
        ) from error
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{weights.upper()}")
    params.nthread = threads or os.cpu_count() or 1
    code = llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), params)
    if code != 0 or not Path(out).is_file():
        raise ExportError(f"llama.cpp's quantizer failed ({code}) making {weights} from {source}")


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Install llama.cpp's GGUF converter for tunesmith's exports.")
    parser.add_argument("--sdist", type=Path, help=f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz already downloaded")
    parser.add_argument("--target", type=Path, help=f"where to keep it (default {default_dir()})")
    args = parser.parse_args(argv)
    folder = install_converter(args.sdist, args.target)
    print(f"llama.cpp's converter (from llama-cpp-python {LLAMA_CPP_PYTHON}) installed in {folder}")


if __name__ == "__main__":
    main()
