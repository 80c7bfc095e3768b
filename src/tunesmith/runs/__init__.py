from tunesmith.runs.atomic import save_folder, staged_file, staged_folder, write_bytes, write_json, write_text
from tunesmith.runs.folder import RunFolder

__all__ = ["RunFolder", "save_folder", "staged_file", "staged_folder", "write_bytes", "write_json", "write_text"]
