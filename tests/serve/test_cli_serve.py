"""``tunesmith serve`` as a real process: the key from TUNESMITH_API_KEY, chat through the openai client."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import openai
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def serving(tiny_run_dir):
    port = free_port()
    env = {**os.environ, "TUNESMITH_API_KEY": "from-env", "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [
        sys.executable,
        "-m",
        "tunesmith.cli",
        "serve",
        str(tiny_run_dir),
        "--port",
        str(port),
        "--model-name",
        "pc",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                assert json.loads(response.read())["model"] == "pc"
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the server did not start:\n{process.communicate()[0]}")
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=30)


def test_served_process_answers_chat_with_the_key_from_the_environment(serving):
    client = openai.OpenAI(base_url=f"{serving}/v1", api_key="from-env", max_retries=0, timeout=60)
    reply = client.chat.completions.create(model="pc", messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
    assert reply.model == "pc" and reply.usage.completion_tokens >= 1
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{serving}/v1", api_key="other", max_retries=0).models.list()
