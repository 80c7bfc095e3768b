"""Serving and exporting a retrieval run: each chat question gets its passages in the prompt and the reply names
them; an Ollama export says it cannot retrieve and carries the index beside the Modelfile."""

import pytest

from tests.tasks.test_rag import train_rag_run


@pytest.fixture(scope="module")
def rag_run(tmp_path_factory, tiny_model_dir):
    return train_rag_run(tmp_path_factory.mktemp("rag"), tiny_model_dir)


@pytest.fixture(scope="module")
def rag_server(rag_run):
    from tunesmith.serve import create_app, load_served
    from tunesmith.serve.server import background_server

    served = load_served(rag_run)
    with background_server(create_app(served, api_key="k", max_batch=4)) as url:
        yield url, served


def test_a_chat_reply_carries_the_passages_its_prompt_held(rag_server):
    from openai import OpenAI

    url, served = rag_server
    assert served.retriever is not None and served.retriever.top_k == 2
    client = OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0, timeout=60)
    reply = client.chat.completions.create(
        model=served.name, messages=[{"role": "user", "content": "Where do students park?"}], max_tokens=4
    )
    sources = reply.model_extra["sources"]
    assert len(sources) == 2 and sources[0]["text"] == "Parking\nStudents park in lot 12 with a permit."
    assert sources[0]["source"] == "handbook.md#Parking"
    expected = [p.text for p in served.retriever.passages("Where do students park?")]
    assert [source["text"] for source in sources] == expected


def test_a_streamed_chat_reply_carries_the_passages_on_its_first_chunk(rag_server):
    from openai import OpenAI

    url, served = rag_server
    client = OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0, timeout=60)
    question = [{"role": "user", "content": "Where do students park?"}]
    chunks = list(client.chat.completions.create(model=served.name, messages=question, max_tokens=4, stream=True))
    expected = [p.text for p in served.retriever.passages("Where do students park?")]
    assert [source["text"] for source in chunks[0].model_extra["sources"]] == expected
    assert all("sources" not in (chunk.model_extra or {}) for chunk in chunks[1:])
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_an_ollama_export_says_it_cannot_retrieve_and_carries_the_index(rag_run, tmp_path):
    from tunesmith.export import export_run

    folder = export_run(rag_run, "ollama", tmp_path / "ollama")
    modelfile = (folder / "Modelfile").read_text()
    assert modelfile.startswith("# This run answers from retrieved passages, which a Modelfile cannot do")
    assert sorted(p.name for p in (folder / "retrieval").iterdir()) == sorted(
        p.name for p in (rag_run / "retrieval").iterdir()
    )


def test_a_run_that_answers_by_copy_sends_the_first_records_answer_and_generates_for_a_document(tmp_path):
    from openai import OpenAI

    from tests.conftest import build_tiny_llama
    from tests.tasks.test_rag import FACTS
    from tunesmith.serve import create_app, load_served
    from tunesmith.serve.server import background_server

    run = train_rag_run(tmp_path, build_tiny_llama(tmp_path / "model"), answer="copy")
    served = load_served(run)
    assert served.retriever.answers
    with background_server(create_app(served, api_key="k", max_batch=4)) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0, timeout=60)
        question = [{"role": "user", "content": "How many credit hours does CSC 450 carry?"}]
        reply = client.chat.completions.create(model=served.name, messages=question, max_tokens=4)
        assert reply.choices[0].message.content == FACTS[0][1] and reply.choices[0].finish_reason == "stop"
        assert reply.model_extra["sources"][0]["text"].endswith(FACTS[0][1])
        chunks = list(client.chat.completions.create(model=served.name, messages=question, stream=True))
        assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == FACTS[0][1]
        parking = [{"role": "user", "content": "Where do students park?"}]  # a document ranks first: generated
        reply = client.chat.completions.create(model=served.name, messages=parking, max_tokens=4)
        assert reply.model_extra["sources"][0]["source"] == "handbook.md#Parking"
        assert reply.choices[0].message.content != FACTS[0][1] and reply.usage.completion_tokens <= 4
