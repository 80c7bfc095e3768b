"""The OpenAI-compatible HTTP API over a loaded model (FastAPI): chat and text completions, embeddings, models.

Generation runs in :class:`GenerationEngine`'s worker thread and embeddings in a one-thread executor, so the
event loop only parses, validates and answers. Errors use OpenAI's shape: ``{"error": {"message", "type", ...}}``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from tunesmith.models.chat import prompt_text
from tunesmith.serve import schemas
from tunesmith.serve.engine import GenerationEngine, Job, QueueFull, Result, Settings
from tunesmith.serve.load import ChatModel, EmbeddingModel

API_KEY_ENV = "TUNESMITH_API_KEY"
OPEN_PATHS = {"/health"}


MAX_QUEUE = 64  # requests waiting for generation before new ones are answered 503 with Retry-After
REQUEST_TIMEOUT = 600.0  # seconds a request may wait and generate before it is answered 504 (and stopped)
MAX_BODY_BYTES = 8 * 2**20  # a larger declared body is refused (413) before it is read or parsed


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        kind: str = "invalid_request_error",
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.kind, self.headers = status, message, param, kind, headers


def error_response(
    status: int, message: str, param: str | None = None, kind: str = "invalid_request_error", headers=None
):
    body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return JSONResponse(status_code=status, content=body, headers=headers)


def create_app(
    served: ChatModel | EmbeddingModel,
    api_key: str | None = None,
    max_batch: int = 8,
    max_queue: int = MAX_QUEUE,
    request_timeout: float | None = REQUEST_TIMEOUT,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """The API for one loaded model; with ``api_key`` every endpoint but /health needs ``Authorization: Bearer``.

    Under load: at most ``max_queue`` generation requests wait (beyond, 503 with Retry-After); a request that has
    not finished after ``request_timeout`` seconds is stopped and answered 504; a body declared larger than
    ``max_body_bytes`` is refused with 413 before it is read."""
    created = int(time.time())
    chat = isinstance(served, ChatModel)
    engine = GenerationEngine(served.model, served.tokenizer, max_batch, max_queue) if chat else None
    limits = Limits(request_timeout)
    embedder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tunesmith-embedding")

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        if engine is not None:
            await asyncio.to_thread(engine.close)
        embedder.shutdown(wait=True)

    app = FastAPI(title=f"tunesmith: {served.name}", lifespan=lifespan)
    app.state.engine = engine

    @app.middleware("http")
    async def require_api_key(request: Request, call_next):
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body_bytes:
            return error_response(413, f"the request body is over {max_body_bytes} bytes", None, "too_large")
        if api_key and request.url.path not in OPEN_PATHS:
            given = request.headers.get("authorization", "")
            if not secrets.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
                return error_response(401, "missing or wrong API key (send 'Authorization: Bearer KEY')", None, "auth")
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def _api_error(_request, err: ApiError):
        return error_response(err.status, err.message, err.param, err.kind, err.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request, err: RequestValidationError):
        problems = [_describe(problem) for problem in err.errors()]
        first = err.errors()[0] if err.errors() else {}
        return error_response(400, "; ".join(problems), _field(first.get("loc", ())))

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": served.name, "queued": engine.queued if engine else 0}

    @app.get("/v1/models", response_model=schemas.ModelList)
    async def models() -> schemas.ModelList:
        return schemas.ModelList(data=[schemas.ModelCard(id=served.name, created=created)])

    @app.get("/v1/models/{model_id:path}", response_model=schemas.ModelCard)
    async def model(model_id: str) -> schemas.ModelCard:
        _check_model_name(served, model_id)
        return schemas.ModelCard(id=served.name, created=created)

    @app.post("/v1/chat/completions", response_model=schemas.ChatCompletion, response_model_exclude_none=True)
    async def chat_completions(body: schemas.ChatCompletionRequest):
        chat = _chat_model(served, body.model)
        messages = [message.model_dump() for message in body.messages]
        passages = await _retrieve(chat, messages)
        try:  # as training rendered it: the run's system prompt (in the first user turn where the template has no
            # system role), Qwen3's non-thinking mode
            prompt = prompt_text(chat.tokenizer, messages, chat.system_prompt)
        except Exception as err:  # noqa: BLE001 - a template that rejects the conversation is the caller's 400
            raise ApiError(400, f"the model's chat template rejects these messages: {err}", "messages") from None
        max_tokens = body.max_completion_tokens or body.max_tokens
        job_ids, settings = _prepare(chat, prompt, body, max_tokens, "messages")
        reply_id, model = f"chatcmpl-{uuid.uuid4().hex}", chat.name
        sources = [schemas.Source(id=p.id, source=p.source, text=p.text) for p in passages] if passages else None
        copied = chat.retriever.copied(passages) if chat.retriever is not None else None
        if copied is not None:  # the run answers with the first record's answer (plan: retrieval_answer copy)
            result = Result(
                copied, len(job_ids), len(chat.tokenizer(copied, add_special_tokens=False)["input_ids"]), "stop"
            )
            if body.stream:
                return _sse(_chat_chunks(_pieces(copied, result), reply_id, model, sources))
        elif body.stream:
            return _sse(_chat_chunks(_stream(engine, job_ids, settings, limits), reply_id, model, sources))
        else:
            result = await _generate(engine, job_ids, settings, limits)
        return schemas.ChatCompletion(
            id=reply_id,
            created=int(time.time()),
            model=model,
            choices=[
                schemas.ChatChoice(
                    index=0,
                    message=schemas.ChatMessage(role="assistant", content=result.text),
                    finish_reason=result.finish_reason,
                )
            ],
            usage=_usage(result),
            sources=sources,
        )

    @app.post("/v1/completions", response_model=schemas.Completion)
    async def completions(body: schemas.CompletionRequest):
        chat = _chat_model(served, body.model)
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if body.stream and len(prompts) > 1:
            raise ApiError(400, "streaming takes a single prompt", "prompt")
        jobs = [_prepare(chat, prompt, body, body.max_tokens, "prompt") for prompt in prompts]
        reply_id, model = f"cmpl-{uuid.uuid4().hex}", chat.name
        if body.stream:
            return _sse(_completion_chunks(_stream(engine, *jobs[0], limits), reply_id, model))
        if len(jobs) > 1 and engine.queued + len(jobs) > engine.max_queue:  # all of the prompts or none
            _submit_refused(engine, len(jobs))
        results = await asyncio.gather(*(_generate(engine, ids, settings, limits) for ids, settings in jobs))
        return schemas.Completion(
            id=reply_id,
            created=int(time.time()),
            model=model,
            choices=[
                schemas.CompletionChoice(index=i, text=result.text, finish_reason=result.finish_reason)
                for i, result in enumerate(results)
            ],
            usage=_total_usage(results),
        )

    @app.post("/v1/embeddings", response_model=schemas.EmbeddingList)
    async def embeddings(body: schemas.EmbeddingRequest):
        if not isinstance(served, EmbeddingModel):
            raise ApiError(400, f"'{served.name}' is a text generation model; it serves no embeddings", "model")
        _check_model_name(served, body.model)
        texts = [body.input] if isinstance(body.input, str) else body.input
        counts = [len(ids) for ids in served.model.tokenizer(texts, add_special_tokens=True)["input_ids"]]
        for index, count in enumerate(counts):
            if count > served.max_tokens:
                raise ApiError(
                    400, f"input {index} has {count} tokens; the model takes at most {served.max_tokens}", "input"
                )
        vectors = await asyncio.get_running_loop().run_in_executor(
            embedder, lambda: served.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        )
        if body.dimensions is not None:
            if body.dimensions > vectors.shape[1]:
                raise ApiError(400, f"dimensions must be at most {vectors.shape[1]}", "dimensions")
            vectors = vectors[:, : body.dimensions]
            vectors = vectors / (((vectors**2).sum(axis=1, keepdims=True)) ** 0.5).clip(min=1e-12)
        data = [
            schemas.Embedding(index=i, embedding=_encode_vector(vector, body.encoding_format))
            for i, vector in enumerate(vectors)
        ]
        total = sum(counts)
        return schemas.EmbeddingList(
            data=data, model=served.name, usage=schemas.Usage(prompt_tokens=total, total_tokens=total)
        )

    return app


async def _retrieve(chat: ChatModel, messages: list[dict]) -> list:
    """A retrieval run: the passages for the last user question, put before it in its message as in training."""
    users = [message for message in messages if message["role"] == "user"]
    if chat.retriever is None or not users:
        return []
    from tunesmith.tasks.rag import messages_with_passages

    passages = await asyncio.get_running_loop().run_in_executor(None, chat.retriever.passages, users[-1]["content"])
    messages[:] = messages_with_passages(messages, passages)
    return passages


def _chat_model(served, requested: str) -> ChatModel:
    if not isinstance(served, ChatModel):
        raise ApiError(400, f"'{served.name}' is an embedding model; use POST /v1/embeddings", "model")
    _check_model_name(served, requested)
    return served


def _check_model_name(served, requested: str) -> None:
    if requested != served.name:
        raise ApiError(404, f"model '{requested}' is not served here; this server serves '{served.name}'", "model")


def _prepare(chat: ChatModel, prompt: str, body: schemas.Sampling, max_tokens: int | None, param: str):
    """Token ids and settings for one prompt, or a 400 when the prompt and answer cannot fit the context."""
    # A chat template writes its own special tokens; a raw prompt gets what the tokenizer adds (a BOS, say).
    ids = chat.tokenizer(prompt, add_special_tokens=param == "prompt")["input_ids"]
    room = chat.context_length - len(ids)
    if not ids:
        raise ApiError(400, "the prompt is empty", param)
    if room < 1:
        raise ApiError(
            400, f"the prompt has {len(ids)} tokens; the model's context holds {chat.context_length}", param
        )
    if max_tokens is not None and max_tokens > room:
        raise ApiError(
            400,
            f"the prompt ({len(ids)} tokens) plus max_tokens ({max_tokens}) exceed the model's context "
            f"({chat.context_length} tokens); ask for at most {room}",
            "max_tokens",
        )
    temperature = body.temperature or 0.0
    settings = Settings(
        max_new_tokens=max_tokens or min(chat.default_max_tokens, room),
        temperature=temperature,
        top_p=body.top_p if body.top_p is not None and temperature > 0 else 1.0,
        stop=body.stop_list(),
        seed=body.seed if temperature > 0 else None,
        decoding=tuple(sorted(chat.decoding.items())) if temperature == 0 else (),
    )
    return ids, settings


@dataclass(frozen=True)
class Limits:
    timeout: float | None  # seconds a request may take, queued and generating; None: no limit


def _submit(engine: GenerationEngine, job: Job) -> None:
    """Queue ``job``, or answer 503 with Retry-After when the queue is full (the client retries later)."""
    try:
        engine.submit(job)
    except QueueFull as full:
        headers = {"Retry-After": str(full.retry_after)}
        raise ApiError(503, str(full), None, "server_busy", headers) from None


def _submit_refused(engine: GenerationEngine, wanted: int) -> None:
    retry = {"Retry-After": str(engine.retry_after())}
    message = f"the server is busy: {engine.queued} requests are waiting and {wanted} prompts do not fit"
    raise ApiError(503, message, "prompt", "server_busy", retry)


def _timed_out(limits: Limits) -> ApiError:
    return ApiError(
        504,
        f"the request took over {limits.timeout:g} s and was stopped; ask for fewer tokens or retry later",
        None,
        "timeout",
    )


async def _generate(engine: GenerationEngine, ids: list[int], settings: Settings, limits: Limits) -> Result:
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def done(outcome):
        loop.call_soon_threadsafe(_settle, future, outcome)

    job = Job(ids, settings, done)
    _submit(engine, job)
    try:
        return await asyncio.wait_for(future, limits.timeout)
    except TimeoutError:
        raise _timed_out(limits) from None
    finally:
        job.cancelled.set()  # a no-op when it finished; else it leaves the queue or stops generating


def _settle(future: asyncio.Future, outcome) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _stream(engine: GenerationEngine, ids: list[int], settings: Settings, limits: Limits) -> AsyncIterator:
    """Queue the job now (a full queue is a 503 before any of the stream is sent); then text pieces as the worker
    produces them, and the final :class:`Result`."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue = asyncio.Queue()
    job = Job(
        ids,
        settings,
        on_done=lambda outcome: loop.call_soon_threadsafe(pieces.put_nowait, outcome),
        on_text=lambda text: loop.call_soon_threadsafe(pieces.put_nowait, text),
    )
    _submit(engine, job)
    deadline = None if limits.timeout is None else loop.time() + limits.timeout

    async def read() -> AsyncIterator[str | Result]:
        try:
            while True:
                left = None if deadline is None else max(0.0, deadline - loop.time())
                try:
                    piece = await asyncio.wait_for(pieces.get(), left)
                except TimeoutError:
                    raise _timed_out(limits) from None
                if isinstance(piece, BaseException):
                    raise piece
                yield piece
                if isinstance(piece, Result):
                    return
        finally:
            job.cancelled.set()  # a no-op when it finished; stops generation when the client closed the stream

    return read()


async def _pieces(*pieces) -> AsyncIterator:
    """A finished answer as the stream of pieces :func:`_chat_chunks` reads: its text, then its Result."""
    for piece in pieces:
        yield piece


async def _chat_chunks(
    pieces: AsyncIterator, reply_id: str, model: str, sources: list | None = None
) -> AsyncIterator[dict]:
    """OpenAI's chunks; a retrieval run's passages ride on the first one as ``sources`` (as on a whole reply)."""
    created = int(time.time())

    def chunk(delta: dict, finish_reason=None) -> dict:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [choice],
        }

    first = chunk({"role": "assistant", "content": ""})
    yield first | {"sources": [source.model_dump() for source in sources]} if sources else first
    async for piece in pieces:
        if isinstance(piece, Result):
            yield chunk({}, piece.finish_reason) | {"usage": _usage(piece).model_dump()}
        else:
            yield chunk({"content": piece})


async def _completion_chunks(pieces: AsyncIterator, reply_id: str, model: str) -> AsyncIterator[dict]:
    created = int(time.time())

    def chunk(text: str, finish_reason=None) -> dict:
        choice = {"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": None}
        return {"id": reply_id, "object": "text_completion", "created": created, "model": model, "choices": [choice]}

    async for piece in pieces:
        yield chunk("", piece.finish_reason) if isinstance(piece, Result) else chunk(piece)


def _sse(chunks: AsyncIterator[dict]) -> StreamingResponse:
    async def events():
        try:
            async for chunk in chunks:
                yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
        except Exception as err:  # noqa: BLE001 - headers are sent already: report the failure in the stream
            kind = err.kind if isinstance(err, ApiError) else "server_error"
            yield f"data: {json.dumps({'error': {'message': str(err), 'type': kind}})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _usage(result: Result) -> schemas.Usage:
    return schemas.Usage(
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        total_tokens=result.prompt_tokens + result.completion_tokens,
    )


def _total_usage(results: list[Result]) -> schemas.Usage:
    prompt = sum(result.prompt_tokens for result in results)
    completion = sum(result.completion_tokens for result in results)
    return schemas.Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _encode_vector(vector, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return vector.astype(float).tolist()


def _field(loc) -> str | None:
    parts = [str(part) for part in loc if part != "body"]
    return ".".join(parts) or None


def _describe(problem: dict) -> str:
    where = _field(problem.get("loc", ()))
    message = problem.get("msg", "invalid value")
    if problem.get("type") == "extra_forbidden":
        message = "unknown or unsupported parameter"
    if problem.get("type") == "json_invalid":
        return f"the request body is not valid JSON ({problem.get('ctx', {}).get('error', message)})"
    return f"{where}: {message}" if where else message
