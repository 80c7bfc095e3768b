"""Generation off the event loop: one worker thread owns the model and serves a queue of jobs.

Jobs that wait in the queue with the same generation settings run together as one left-padded batch (up to
``max_batch``); a streaming job runs alone, sending text to its caller as tokens arrive. Jobs are never
dropped: each one ends with its result or with the exception that stopped it. The queue is bounded
(``max_queue``): a job beyond it is refused at once with :class:`QueueFull`, which says when to retry, instead of
waiting without bound; a job whose caller has gone (a closed stream, a request past its time limit) is answered
with :class:`Cancelled` without being generated.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from tunesmith.models.decoding import generate_kwargs, stop_token_ids


@dataclass(frozen=True)
class Settings:
    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    decoding: tuple[tuple[str, object], ...] = ()  # greedy only: the run's beams and repetition guard

    @property
    def batchable(self) -> bool:
        return self.seed is None  # a seeded request must not share its random stream with others


@dataclass
class Result:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of turn or a stop string) or "length"


@dataclass
class Job:
    prompt_ids: list[int]
    settings: Settings
    on_done: Callable[[Result | BaseException], None]
    on_text: Callable[[str], None] | None = None  # set for streaming jobs
    cancelled: threading.Event = field(default_factory=threading.Event)  # the client went away: stop early


class QueueFull(Exception):
    """The queue holds ``max_queue`` jobs already; ``retry_after``: seconds until it has likely drained a batch."""

    def __init__(self, queued: int, retry_after: int):
        super().__init__(f"the server is busy: {queued} requests are waiting; retry in {retry_after} s")
        self.queued, self.retry_after = queued, retry_after


class Cancelled(Exception):
    """The job's caller went away before it was generated."""


class GenerationEngine:
    def __init__(self, model, tokenizer, max_batch: int = 8, max_queue: int = 64):
        self.model = model
        self.tokenizer = tokenizer
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.batch_seconds = 1.0  # a running mean of the time one batch takes (Retry-After), until measured
        self.eos_ids = _eos_ids(model, tokenizer)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self.eos_ids)
        self.batches_run = 0
        self._jobs: deque[Job] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        self._worker = threading.Thread(target=self._serve, name="tunesmith-generation", daemon=True)
        self._worker.start()

    @property
    def queued(self) -> int:
        return len(self._jobs)

    def submit(self, job: Job) -> None:
        """Queue ``job``; raises :class:`QueueFull` when ``max_queue`` jobs wait already."""
        with self._ready:
            if self._stopping:
                raise RuntimeError("the generation engine is shutting down")
            if len(self._jobs) >= self.max_queue:
                raise QueueFull(len(self._jobs), self.retry_after())
            self._jobs.append(job)
            self._ready.notify()

    def retry_after(self) -> int:
        """Whole seconds until the jobs waiting now have likely been generated, by the measured batch time."""
        return max(1, math.ceil(self.batch_seconds * math.ceil(max(1, len(self._jobs)) / self.max_batch)))

    def close(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify()
        self._worker.join(timeout=30)

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._jobs and not self._stopping:
                    self._ready.wait()
                if not self._jobs:
                    return  # stopping, and every queued job has been answered
                batch = self._take_batch()
            if not batch:
                continue
            started = time.perf_counter()
            try:
                results = self._run(batch)
            except BaseException as err:  # noqa: BLE001 - every job gets an answer, even a failure
                for job in batch:
                    job.on_done(err)
                continue
            self.batch_seconds = 0.8 * self.batch_seconds + 0.2 * (time.perf_counter() - started)
            for job, result in zip(batch, results):
                job.on_done(result)

    def _take_batch(self) -> list[Job]:
        """The next batch; jobs whose callers have gone are answered with :class:`Cancelled` instead (possibly
        leaving an empty batch)."""
        for job in [job for job in self._jobs if job.cancelled.is_set()]:
            self._jobs.remove(job)
            job.on_done(Cancelled("the request was cancelled before it was generated"))
        if not self._jobs:
            return []
        first = self._jobs.popleft()
        batch = [first]
        if first.on_text is not None or not first.settings.batchable:
            return batch
        for job in list(self._jobs):
            if len(batch) == self.max_batch:
                break
            if job.on_text is None and job.settings == first.settings:
                self._jobs.remove(job)
                batch.append(job)
        return batch

    def _run(self, batch: list[Job]) -> list[Result]:
        import torch

        settings = batch[0].settings
        width = max(len(job.prompt_ids) for job in batch)
        input_ids = torch.tensor([[self.pad_id] * (width - len(job.prompt_ids)) + job.prompt_ids for job in batch])
        attention_mask = torch.tensor(
            [[0] * (width - len(job.prompt_ids)) + [1] * len(job.prompt_ids) for job in batch]
        )
        sampling = {"do_sample": False}
        if settings.temperature > 0:
            sampling = {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p, "top_k": 0}
            if settings.seed is not None:
                torch.manual_seed(settings.seed)
        decoding = generate_kwargs(self.model, dict(settings.decoding), width)
        streams = batch[0].on_text is not None and decoding.get("num_beams", 1) == 1  # beams finish before text
        streamer = _DeltaStreamer(self, batch[0].on_text, settings.stop) if batch[0].on_text else None
        stop_strings = {"stop_strings": list(settings.stop), "tokenizer": self.tokenizer} if settings.stop else {}
        cancelled = StoppingCriteriaList([_Cancelled(batch)])
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                max_new_tokens=settings.max_new_tokens,
                eos_token_id=sorted(self.eos_ids),
                pad_token_id=self.pad_id,
                streamer=streamer if streams else None,
                stopping_criteria=cancelled,
                **sampling,
                **stop_strings,
                **decoding,
            )
        self.batches_run += 1
        results = [self._result(job, output[row, width:].tolist()) for row, job in enumerate(batch)]
        if streamer is not None:
            streamer.finish(results[0].text)
        return results

    def _result(self, job: Job, new_ids: list[int]) -> Result:
        ended = next((i for i, token in enumerate(new_ids) if token in self.eos_ids), None)
        generated = new_ids if ended is None else new_ids[:ended]
        text, cut = cut_at_stop(self.decode(generated), job.settings.stop)
        reason = "stop" if ended is not None or cut else "length"
        return Result(text, len(job.prompt_ids), len(generated) + (ended is not None), reason)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


def cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """The text up to the first stop string (which is not included), and whether one was found."""
    positions = [text.find(stop) for stop in stops if stop in text]
    return (text[: min(positions)], True) if positions else (text, False)


class _Cancelled(StoppingCriteria):
    """Ends the rows whose client has gone away (a closed stream), so the worker moves on to waiting jobs."""

    def __init__(self, batch: list[Job]):
        self.batch = batch

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        ended = torch.tensor([job.cancelled.is_set() for job in self.batch], device=input_ids.device)
        return ended.repeat_interleave(input_ids.shape[0] // len(self.batch))  # beam search: a row per beam


class _DeltaStreamer(BaseStreamer):
    """Sends each new piece of decoded text; holds back what could still turn into a stop string or a split
    multi-byte character, so a streamed answer is exactly the non-streamed one."""

    def __init__(self, engine: GenerationEngine, send: Callable[[str], None], stops: tuple[str, ...]):
        self.engine, self.send, self.stops = engine, send, stops
        self.hold = max((len(stop) for stop in stops), default=1) - 1
        self.ids: list[int] = []
        self.sent = 0
        self.prompt_seen = False

    def put(self, value) -> None:
        if not self.prompt_seen:  # generate() first pushes the prompt
            self.prompt_seen = True
            return
        self.ids += [token for token in value.flatten().tolist() if token not in self.engine.eos_ids]
        text, cut = cut_at_stop(self.engine.decode(self.ids), self.stops)
        if text.endswith("\ufffd"):
            return
        ready = len(text) if cut else len(text) - self.hold
        if ready > self.sent:
            self.send(text[self.sent : ready])
            self.sent = ready

    def end(self) -> None:
        pass

    def finish(self, final_text: str) -> None:
        if len(final_text) > self.sent:
            self.send(final_text[self.sent :])
            self.sent = len(final_text)


def _eos_ids(model, tokenizer) -> set[int]:
    """End of text and end of turn (Gemma's <end_of_turn>, Phi-3's <|end|>): as scoring stops answers."""
    return set(stop_token_ids(model, tokenizer))
