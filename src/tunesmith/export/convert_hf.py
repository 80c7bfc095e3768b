"""Runs llama.cpp's convert_hf_to_gguf.py in this interpreter, with its own gguf-py (not the installed ``gguf``).

    python convert_hf.py LLAMA_CPP_DIR PRE_TOKENIZER MODEL_DIR [converter arguments...]

A script, not a module of the package: it runs alone in a fresh interpreter (see tunesmith.export.llama_cpp).
One change to the converter's behaviour: where its hash of a probe text does not name the tokenizer's
pre-tokenizer (a tokenizer trained or edited locally, so no published model hashes the same), PRE_TOKENIZER (read
by tunesmith from tokenizer.json) is used instead of stopping; an empty PRE_TOKENIZER keeps the converter's error.
"""

import runpy
import sys
from pathlib import Path


def main() -> None:
    llama_dir, pre_tokenizer, *arguments = sys.argv[1:]
    # sys.path[0] is this script's folder, whose gguf.py would shadow llama.cpp's gguf-py.
    sys.path[0:1] = [llama_dir, str(Path(llama_dir) / "gguf-py")]
    from conversion import base

    recognised = base.TextModel.get_vocab_base_pre

    def get_vocab_base_pre(self, tokenizer) -> str:
        try:
            return recognised(self, tokenizer)
        except NotImplementedError:
            if not pre_tokenizer:
                raise
            base.logger.warning(f"pre-tokenizer not known by its hash; {pre_tokenizer!r} as tokenizer.json says")
            return pre_tokenizer

    base.TextModel.get_vocab_base_pre = get_vocab_base_pre
    script = str(Path(llama_dir) / "convert_hf_to_gguf.py")
    sys.argv = [script, *arguments]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
