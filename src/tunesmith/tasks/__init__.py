"""Task builders, one module per kind of model; ``cfg.task`` picks one."""

from tunesmith.tasks.causal import CausalBundle, build_causal, load_trained

BUILDERS = {"causal_lm": build_causal}

__all__ = ["BUILDERS", "CausalBundle", "build_causal", "load_trained"]
