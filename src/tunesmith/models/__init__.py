from tunesmith.models.gguf import convert_gguf, home_dir
from tunesmith.models.resolve import offline_copy, resolve_model

__all__ = ["convert_gguf", "home_dir", "offline_copy", "resolve_model"]
