"""The OpenAI-compatible API over a fine-tuned tiny run, through the official openai client on loopback."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
import torch

QUESTION = [{"role": "user", "content": "When do you open?"}]


def direct_greedy(served, messages, max_new_tokens):
    """What transformers' own greedy generate answers, with the run's system prompt, as the reference."""
    messages = [{"role": "system", "content": served.system_prompt}, *messages]
    prompt = served.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = served.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = served.model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False)
    new = out[0, ids.shape[1] :].tolist()
    eos = served.tokenizer.eos_token_id
    return served.tokenizer.decode(new[: new.index(eos)] if eos in new else new, skip_special_tokens=True)


def get(url: str, key: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_models_lists_the_served_run(client, served_tiny):
    assert [model.id for model in client.models.list().data] == [served_tiny.name] == ["tiny"]
    assert client.models.retrieve("tiny").id == "tiny"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_chat_answers_what_greedy_transformers_generates(client, served_tiny):
    reply = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=12)
    assert reply.choices[0].message.content == direct_greedy(served_tiny, QUESTION, 12)
    assert reply.choices[0].message.role == "assistant" and reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 5 and 1 <= reply.usage.completion_tokens <= 12


def test_streamed_chat_is_the_same_answer_in_pieces(client):
    whole = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=16).choices[0]
    chunks = list(client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=16, stream=True))
    pieces = [chunk.choices[0].delta.content or "" for chunk in chunks]
    assert "".join(pieces) == whole.message.content
    assert sum(1 for piece in pieces if piece) > 1  # it really streamed, token by token
    assert (
        chunks[0].choices[0].delta.role == "assistant" and chunks[-1].choices[0].finish_reason == whole.finish_reason
    )


def test_stop_sequence_ends_the_answer_before_it_streamed_or_not(client):
    free = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=16).choices[0].message.content
    assert len(free) > 4
    stop = free[3:5]
    cut = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=16, stop=[stop])
    assert cut.choices[0].message.content == free[: free.index(stop)] and cut.choices[0].finish_reason == "stop"
    streamed = client.chat.completions.create(model="tiny", messages=QUESTION, max_tokens=16, stop=stop, stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in streamed) == cut.choices[0].message.content


def test_text_completions_take_a_list_of_prompts_and_stream(client):
    prompts = ["<|im_start|>user\nWhere are you?<|im_end|>\n<|im_start|>assistant\n", "Our phone number is"]
    batch = client.completions.create(model="tiny", prompt=prompts, max_tokens=8)
    singles = [client.completions.create(model="tiny", prompt=p, max_tokens=8).choices[0].text for p in prompts]
    assert [choice.text for choice in sorted(batch.choices, key=lambda c: c.index)] == singles
    streamed = client.completions.create(model="tiny", prompt=prompts[0], max_tokens=8, stream=True)
    assert "".join(chunk.choices[0].text for chunk in streamed) == singles[0]


def test_concurrent_requests_are_all_answered_and_batched(client, tiny_server, served_tiny):
    engine = tiny_server[1].state.engine
    questions = [[{"role": "user", "content": f"Question number {i}: do you print banners?"}] for i in range(12)]
    expected = [direct_greedy(served_tiny, q, 8) for q in questions]
    before = engine.batches_run
    with ThreadPoolExecutor(max_workers=12) as pool:
        replies = list(
            pool.map(lambda q: client.chat.completions.create(model="tiny", messages=q, max_tokens=8), questions)
        )
    assert [reply.choices[0].message.content for reply in replies] == expected
    assert engine.batches_run - before < len(questions)  # queued requests shared generate() calls


def test_api_key_guards_everything_but_health(tiny_server):
    url = tiny_server[0]
    from openai import OpenAI

    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0).models.list()
    assert get(f"{url}/v1/models")[0] == 401  # no key at all
    status, body = get(f"{url}/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, body = get(f"{url}/docs")
    assert status == 401 and "API key" in json.loads(body)["error"]["message"]
    status, body = get(f"{url}/docs", "test-key")
    assert status == 200 and "swagger" in body.lower()
    spec = json.loads(get(f"{url}/openapi.json", "test-key")[1])
    assert {"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models"} <= set(spec["paths"])


@pytest.mark.parametrize(
    ("arguments", "error", "says"),
    [
        ({"messages": [{"role": "user", "content": "word " * 400}]}, openai.BadRequestError, "context"),
        ({"messages": QUESTION, "max_tokens": 10_000}, openai.BadRequestError, "max_tokens"),
        ({"messages": QUESTION, "max_tokens": 0}, openai.BadRequestError, "max_tokens"),
        ({"messages": QUESTION, "temperature": 5}, openai.BadRequestError, "temperature"),
        ({"messages": QUESTION, "n": 3}, openai.BadRequestError, "n:"),
        ({"messages": []}, openai.BadRequestError, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, openai.BadRequestError, "role"),
        ({"messages": QUESTION, "stop": ["a", "b", "c", "d", "e"]}, openai.BadRequestError, "stop"),
        ({"messages": QUESTION, "model": "gpt-4o"}, openai.NotFoundError, "serves 'tiny'"),
        ({"messages": QUESTION, "extra_body": {"frobnicate": 1}}, openai.BadRequestError, "frobnicate"),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_problem(client, arguments, error, says):
    arguments = {"model": "tiny", **arguments}
    with pytest.raises(error) as caught:
        client.chat.completions.create(**arguments)
    assert says in str(caught.value)
    assert 400 <= caught.value.status_code < 500


def test_a_body_that_is_not_json_is_a_400(tiny_server):
    request = urllib.request.Request(
        f"{tiny_server[0]}/v1/chat/completions",
        data=b"{not json",
        headers={"Authorization": "Bearer test-key", "Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400 and "not valid JSON" in json.loads(caught.value.read())["error"]["message"]


def test_embeddings_on_a_chat_model_are_a_clear_400(client):
    with pytest.raises(openai.BadRequestError, match="serves no embeddings"):
        client.embeddings.create(model="tiny", input="hello")
