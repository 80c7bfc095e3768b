"""``tunesmith serve``: an OpenAI-compatible HTTP API over a finished run or a model folder."""

from tunesmith.serve.app import API_KEY_ENV, create_app
from tunesmith.serve.load import load_served

__all__ = ["API_KEY_ENV", "create_app", "load_served"]
