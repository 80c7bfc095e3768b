"""A served tiny fine-tuned run on a free loopback port, talked to with the official openai client."""

import pytest

API_KEY = "test-key"


@pytest.fixture(scope="session")
def served_tiny(tiny_run_dir):
    from tunesmith.serve import load_served

    return load_served(tiny_run_dir)


@pytest.fixture(scope="session")
def tiny_server(served_tiny):
    from tunesmith.serve import create_app
    from tunesmith.serve.server import background_server

    app = create_app(served_tiny, api_key=API_KEY, max_batch=8)
    with background_server(app) as url:
        yield url, app


@pytest.fixture
def client(tiny_server):
    from openai import OpenAI

    return OpenAI(base_url=f"{tiny_server[0]}/v1", api_key=API_KEY, max_retries=0, timeout=60)
