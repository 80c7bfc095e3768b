from tunesmith.config.load import config_from_dict, dump_config, load_config, resolve_paths, section_from_dict
from tunesmith.config.schema import DEFAULT_MODEL, RunConfig

__all__ = [
    "DEFAULT_MODEL",
    "RunConfig",
    "config_from_dict",
    "dump_config",
    "load_config",
    "resolve_paths",
    "section_from_dict",
]
