"""Regional compilation of the training steps (issue 23): ``torch.compile`` on each repeated block, in place.

On 2 CPU cores with SmolLM2-135M and LoRA (MSU CS Q&A, bf16), compiling the decoder layers (dynamic shapes from
the start: one graph for every length) took 23-32 s before the first step and then trained at 1.18-1.23x the eager
tokens/s (micro-batch 2: 494 vs 402; micro-batch 4: 614 vs 504) with no more memory (1.86 vs 1.93 GiB), inductor
fusing the norms, activations and rotary embeddings around the matmuls. The blocks share one compiled graph (the
same code with their weights as inputs), accelerate's ``is_repeated_blocks`` finds them, and a block compiled in
place keeps its module (PEFT, the answer-only loss and checkpoints see the same model). Evaluation runs eager
(``torch.compiler.set_stance``): a validation pass or generated answers would compile other graphs for a few calls.

On a CPU the compiled blocks use transformers' eager attention (a matmul, the softmax, a matmul) where sequences are
short: torch's CPU flash-attention kernel, which SDPA picks, spent 22% of a compiled step in its backward alone at
56-80 tokens (torch.profiler: 2.6 ms a call for 4 sequences x 9 heads x 72 tokens), while inductor fuses the eager
one's mask, softmax and casts around two small matmuls. bench/train_three_way.py --steps 24, two sittings: compiled
658 and 823 steady tokens/s against 472 and 566 eager (1.39x, 1.45x; with SDPA it was 1.23x), 40.0% and 44.4% of the
bf16 matmul peak (39.1-44.4% in five sittings, 1.31-1.47x), no more memory. The eager attention keeps its
probabilities for the backward pass (micro-batch x heads x length^2), so it is used up to
lm.EAGER_ATTENTION_MAX_LENGTH.cpu tokens only; it holds for the validation pass and answers between epochs too (the
same numbers as SDPA's, tested in fp32).
"""

from __future__ import annotations

from contextlib import contextmanager

from tunesmith.errors import ConfigError
from tunesmith.models.heads import plain_model
from tunesmith.plan.make import compiled_eager_attention


def repeated_blocks(model) -> list:
    """The modules of each outermost ``ModuleList`` whose members share one class (a decoder's layers)."""
    from accelerate.utils.other import is_repeated_blocks

    found = []

    def visit(module) -> None:
        for child in module.children():
            if is_repeated_blocks(child):
                found.extend(child)
            else:
                visit(child)

    visit(model)
    return found


def require_compiler() -> None:
    """torch.compile's CPU code is C++ built at run time: refuse before training where no compiler is found."""
    from tunesmith.plan.hardware import cpp_compiler

    if cpp_compiler() is None:
        raise ConfigError(
            "training.compile: torch.compile needs a C++ compiler on a CPU and none was found; install g++ or "
            "clang++, or set training.compile: false"
        )


@contextmanager
def compiled_blocks(model, enabled: bool, on_cpu: bool, max_length: int | None = None):
    """Compile the model's repeated blocks in place for the duration (``dynamic``: micro-batches differ in length)
    and return them to eager afterwards; yields how many blocks were compiled. On a CPU with sequences of at most
    lm.EAGER_ATTENTION_MAX_LENGTH.cpu tokens (``max_length``), the eager attention meanwhile (see the module's note;
    the plan's compile estimate follows the same rule, tunesmith.plan.make.compiled_eager_attention)."""
    if not enabled:
        yield 0
        return
    if on_cpu:
        require_compiler()
    blocks = repeated_blocks(model)
    if not blocks:
        raise ConfigError("training.compile: this model has no repeated blocks (layers) to compile")
    short = compiled_eager_attention(on_cpu, max_length)
    with attention_implementation(model, "eager" if short else None):
        for block in blocks:
            block.compile(dynamic=True)
        try:
            yield len(blocks)
        finally:
            for block in blocks:
                # nn.Module.compile() stores the compiled call here; torch has no public way back to eager
                block._compiled_call_impl = None


@contextmanager
def attention_implementation(model, name: str | None):
    """The model's attention implementation set to ``name`` (transformers' ``set_attn_implementation``: "eager",
    "sdpa", ...) for the duration, then the one it had; ``None`` changes nothing."""
    causal_lm = plain_model(model)
    before = causal_lm.config._attn_implementation
    if name is None or name == before:
        yield
        return
    causal_lm.set_attn_implementation(name)
    try:
        yield
    finally:
        causal_lm.set_attn_implementation(before)
