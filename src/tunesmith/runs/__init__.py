from tunesmith.runs.folder import RunFolder

__all__ = ["RunFolder"]
