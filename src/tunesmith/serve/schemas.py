"""Request and response bodies of the OpenAI-compatible API (the subset tunesmith serves), validated by pydantic."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_STOP_SEQUENCES = 4
MAX_BATCH_PROMPTS = 32


class Request(BaseModel):
    # Unknown fields are rejected with a 400 naming them, rather than silently ignored.
    model_config = ConfigDict(extra="forbid")


class Sampling(Request):
    """Fields shared by chat and text completions; ``None`` means the served model's default."""

    model: str = Field(description="The served model's id (see GET /v1/models).")
    max_tokens: int | None = Field(None, ge=1, description="Most tokens to generate.")
    temperature: float | None = Field(None, ge=0.0, le=2.0, description="0 = greedy (the server's default).")
    top_p: float | None = Field(None, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    n: int = Field(1, description="Choices per prompt; only 1 is supported.")
    stream: bool = Field(False, description="Send the answer as server-sent events, piece by piece.")
    stream_options: dict[str, Any] | None = None
    stop: str | list[str] | None = Field(None, description=f"Up to {MAX_STOP_SEQUENCES} strings that end the answer.")
    seed: int | None = Field(None, description="Seed for sampling (with temperature > 0).")
    user: str | None = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, value: int) -> int:
        if value != 1:
            raise ValueError("only n=1 is supported (one choice per prompt)")
        return value

    @field_validator("stop")
    @classmethod
    def _few_non_empty_stops(cls, value):
        stops = [value] if isinstance(value, str) else value
        if stops is not None:
            if len(stops) > MAX_STOP_SEQUENCES:
                raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed")
            if any(not stop for stop in stops):
                raise ValueError("stop sequences must not be empty")
        return value

    def stop_list(self) -> tuple[str, ...]:
        return () if self.stop is None else (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatCompletionRequest(Sampling):
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation so far.")
    max_completion_tokens: int | None = Field(None, ge=1, description="Alias of max_tokens.")

    @field_validator("messages")
    @classmethod
    def _ends_with_a_user_turn(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if messages[-1].role == "assistant":
            raise ValueError("the last message must be from the user or the system, not the assistant")
        return messages


class CompletionRequest(Sampling):
    prompt: str | list[str] = Field(description="A prompt, or a list of prompts (one choice each).")

    @field_validator("prompt")
    @classmethod
    def _bounded_prompt_list(cls, prompt):
        if isinstance(prompt, list) and not 1 <= len(prompt) <= MAX_BATCH_PROMPTS:
            raise ValueError(f"give between 1 and {MAX_BATCH_PROMPTS} prompts")
        return prompt


class EmbeddingRequest(Request):
    model: str
    input: str | list[str] = Field(description="A text or a list of texts.")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, description="Keep the first N dimensions (then re-normalised).")
    user: str | None = None

    @field_validator("input")
    @classmethod
    def _non_empty_texts(cls, value):
        texts = [value] if isinstance(value, str) else value
        if not texts or len(texts) > 2048:
            raise ValueError("give between 1 and 2048 texts")
        if any(not text for text in texts):
            raise ValueError("texts must not be empty")
        return value


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int = 0
    total_tokens: int


class ChatChoice(BaseModel):
    index: int
    message: ChatMessage
    finish_reason: Literal["stop", "length"]


class Source(BaseModel):
    """A passage a retrieval run put in the prompt (an extra field: OpenAI clients keep it, others ignore it)."""

    id: str
    source: str
    text: str


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    sources: list[Source] | None = None  # retrieval runs only; left out of the response otherwise


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "tunesmith"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
