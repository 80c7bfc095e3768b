"""The generation engine's text handling: answers keep URLs, e-mail addresses and numbers exactly."""

import json
import threading

from tunesmith.serve.engine import GenerationEngine, Job, Settings, _DeltaStreamer, cut_at_stop

TEXT = (
    "See https://presscrafters.example/quote?id=42&x=1 or write to orders@presscrafters.example: (541) 555-0187, 3.5%."
)


def test_answers_and_streams_keep_urls_emails_and_numbers_intact(served_tiny):
    engine = GenerationEngine(served_tiny.model, served_tiny.tokenizer)
    try:
        ids = served_tiny.tokenizer(TEXT, add_special_tokens=False)["input_ids"]
        eos = served_tiny.tokenizer.eos_token_id
        job = Job([1, 2], Settings(max_new_tokens=len(ids) + 1), on_done=lambda _: None)
        result = engine._result(job, ids + [eos, 0, 0])
        assert (result.text, result.finish_reason, result.completion_tokens) == (TEXT, "stop", len(ids) + 1)
        pieces = []
        streamer = _DeltaStreamer(engine, pieces.append, ())
        import torch

        streamer.put(torch.tensor([[1, 2]]))  # the prompt
        for token in ids:
            streamer.put(torch.tensor([token]))
        streamer.finish(result.text)
        assert "".join(pieces) == TEXT and len(pieces) > 5
    finally:
        engine.close()


def test_stop_strings_cut_at_the_first_one():
    assert cut_at_stop("a. b! c.", (".", "!")) == ("a", True)
    assert cut_at_stop("no stop here", ("###",)) == ("no stop here", False)


def test_closing_the_engine_answers_every_queued_job_first(served_tiny):
    engine = GenerationEngine(served_tiny.model, served_tiny.tokenizer, max_batch=2)
    answers, lock = [], threading.Lock()

    def done(outcome):
        with lock:
            answers.append(outcome)

    ids = served_tiny.tokenizer("When do you open?", add_special_tokens=False)["input_ids"]
    for _ in range(5):
        engine.submit(Job(ids, Settings(max_new_tokens=3), on_done=done))
    engine.close()
    assert len(answers) == 5 and all(answer.completion_tokens >= 1 for answer in answers)


def test_a_cancelled_job_stops_after_one_token(served_tiny):
    engine = GenerationEngine(served_tiny.model, served_tiny.tokenizer)
    answers = []
    try:
        ids = served_tiny.tokenizer("When do you open?", add_special_tokens=False)["input_ids"]
        job = Job(ids, Settings(max_new_tokens=50), on_done=answers.append, on_text=lambda _: job.cancelled.set())
        engine.submit(job)  # the client closes its stream once the first text arrives
    finally:
        engine.close()
    assert answers[0].completion_tokens <= 2  # the token that carried the first text, maybe one more


def test_a_job_cancelled_while_queued_is_answered_without_generating(served_tiny):
    from tunesmith.serve.engine import Cancelled

    engine = GenerationEngine(served_tiny.model, served_tiny.tokenizer)
    answers = []
    try:
        ids = served_tiny.tokenizer("When do you open?", add_special_tokens=False)["input_ids"]
        job = Job(ids, Settings(max_new_tokens=50), on_done=answers.append)
        job.cancelled.set()  # as when a request passed its time limit while it waited
        engine.submit(job)
    finally:
        engine.close()
    assert isinstance(answers[0], Cancelled) and engine.batches_run == 0


def test_a_full_queue_refuses_the_next_job_and_says_when_to_retry(served_tiny):
    from tunesmith.serve.engine import QueueFull

    engine = GenerationEngine(served_tiny.model, served_tiny.tokenizer, max_batch=2, max_queue=3)
    answers, lock, gate = [], threading.Lock(), threading.Event()

    def done(outcome):
        with lock:
            answers.append(outcome)

    ids = served_tiny.tokenizer("When do you open?", add_special_tokens=False)["input_ids"]
    blocker = Job(ids, Settings(max_new_tokens=2), on_done=done, on_text=lambda _: gate.wait(10))
    try:
        engine.submit(blocker)  # the worker takes it and blocks on its first text: the queue stays as filled
        while engine.queued:
            pass
        for _ in range(3):
            engine.submit(Job(ids, Settings(max_new_tokens=2), on_done=done))
        try:
            engine.submit(Job(ids, Settings(max_new_tokens=2), on_done=done))
            raise AssertionError("a fourth waiting job was accepted")
        except QueueFull as full:
            assert full.queued == 3 and full.retry_after >= 1 and "retry in" in str(full)
    finally:
        gate.set()
        engine.close()
    assert len(answers) == 4 and all(answer.completion_tokens >= 1 for answer in answers)  # none lost


def test_a_runs_beam_decoding_is_served_as_transformers_decodes_it_streamed_or_not(served_tiny):
    """A run scored with beam search and the n-gram guard answers greedy requests the same way; a streamed answer
    arrives whole (beams finish before any text is final) and equals the non-streamed one."""
    import torch

    from tunesmith.models.decoding import generate_kwargs

    tokenizer, model = served_tiny.tokenizer, served_tiny.model
    decoding = {"num_beams": 3, "length_penalty": 1.0, "early_stopping": True, "no_repeat_ngram_size": 2}
    ids = tokenizer("When do you open?", add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        output = model.generate(
            input_ids=torch.tensor([ids]),
            max_new_tokens=10,
            do_sample=False,
            **generate_kwargs(model, decoding, len(ids)),
        )
    expected = tokenizer.decode(
        [t for t in output[0, len(ids) :].tolist() if t != tokenizer.eos_token_id], skip_special_tokens=True
    )
    engine = GenerationEngine(model, tokenizer)
    settings = Settings(max_new_tokens=10, decoding=tuple(sorted(decoding.items())))
    answers, pieces = [], []
    try:
        engine.submit(Job(ids, settings, on_done=answers.append))
        engine.submit(Job(ids, settings, on_done=answers.append, on_text=pieces.append))
    finally:
        engine.close()
    assert answers[0].text == answers[1].text == "".join(pieces)
    assert answers[0].text.strip() == expected.strip()


def test_a_served_run_decodes_greedy_requests_as_its_plan_chose(tmp_path, tiny_run_dir):
    import shutil

    from tunesmith.serve import load_served

    run = shutil.copytree(tiny_run_dir, tmp_path / "run")
    plan = json.loads((run / "plan.json").read_text())
    plan["choices"]["num_beams"] = {"value": 3, "reason": "chosen on the validation split", "source": "plan"}
    plan["choices"]["no_repeat_ngram_size"] = {
        "value": 2,
        "reason": "chosen on the validation split",
        "source": "plan",
    }
    (run / "plan.json").write_text(json.dumps(plan))
    served = load_served(run)
    assert served.decoding == {
        "num_beams": 3,
        "length_penalty": 1.0,
        "early_stopping": True,
        "no_repeat_ngram_size": 2,
    }
