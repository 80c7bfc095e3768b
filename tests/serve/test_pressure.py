"""The server under pressure (tiny model, real HTTP on loopback): a full queue answers 503 with Retry-After and
loses nothing, a request past its time limit is stopped with 504 and frees the worker, an oversized body is
refused before it is read."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.serve.conftest import API_KEY

HEADERS = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def pressed_server(served_tiny):
    from tunesmith.serve import create_app
    from tunesmith.serve.server import background_server

    def start(**limits):
        app = create_app(served_tiny, api_key=API_KEY, **limits)
        return background_server(app)

    return start


def chat(url: str, max_tokens: int = 24, stream: bool = False) -> httpx.Response:
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": "When do you open?"}],
        "max_tokens": max_tokens,
        "stream": stream,
    }
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=HEADERS, timeout=60)


def test_a_flood_beyond_the_queue_is_answered_503_with_retry_after_and_nothing_is_lost(pressed_server):
    with pressed_server(max_batch=1, max_queue=2) as url:
        with ThreadPoolExecutor(max_workers=24) as pool:
            replies = list(pool.map(lambda _: chat(url, max_tokens=48), range(48)))
    statuses = [reply.status_code for reply in replies]
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 3 and statuses.count(503) >= 1
    for reply in replies:
        if reply.status_code == 503:
            assert int(reply.headers["Retry-After"]) >= 1
            assert reply.json()["error"]["type"] == "server_busy" and "retry in" in reply.json()["error"]["message"]
        else:
            assert reply.json()["choices"][0]["message"]["content"] is not None


def test_a_request_past_its_time_limit_is_stopped_with_504_and_the_next_one_is_served(pressed_server):
    with pressed_server(request_timeout=0.001) as url:
        late = chat(url, max_tokens=200)
        assert late.status_code == 504 and late.json()["error"]["type"] == "timeout"
        streamed = chat(url, max_tokens=200, stream=True)
        assert streamed.status_code == 200 and '"type": "timeout"' in streamed.text  # headers were sent already
        assert streamed.text.rstrip().endswith("data: [DONE]")
    with pressed_server(request_timeout=60) as url:
        assert chat(url).status_code == 200


def test_an_oversized_body_is_refused_before_it_is_read(pressed_server):
    with pressed_server(max_body_bytes=1024) as url:
        big = {"model": "tiny", "messages": [{"role": "user", "content": "x" * 4096}]}
        reply = httpx.post(f"{url}/v1/chat/completions", json=big, headers=HEADERS, timeout=60)
        assert reply.status_code == 413 and reply.json()["error"]["type"] == "too_large"
        assert chat(url).status_code == 200
