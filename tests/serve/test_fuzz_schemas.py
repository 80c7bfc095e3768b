"""Property tests: any JSON body validates into a request or fails with pydantic's ValidationError, and that error
turns into the server's 400 body (as its RequestValidationError handler does it) without raising anything else.

FastAPI wraps the ValidationError of a request body in a RequestValidationError, which ``create_app`` answers
with a 400 built by ``_describe`` and ``_field``; those are exercised here on every failure.
"""

from __future__ import annotations

import json

from hypothesis import event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tunesmith.serve import schemas
from tunesmith.serve.app import _describe, _field, error_response

FAST = settings(max_examples=200, deadline=None)
REQUESTS = (schemas.ChatCompletionRequest, schemas.CompletionRequest, schemas.EmbeddingRequest)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["system", "user", "assistant", "float", "base64", "m"])
)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner))
MESSAGE = st.fixed_dictionaries(
    {}, optional={"role": st.sampled_from(["system", "user", "assistant"]) | JSON, "content": st.text() | JSON}
)
FIELD_VALUE = JSON | st.lists(MESSAGE, max_size=3) | st.lists(st.text(max_size=5), max_size=5)


TEXTS = st.text(min_size=1, max_size=10) | st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=3)
LIKELY = {  # values that pass, for the required fields, so that bodies get past them to the optional ones
    "model": st.just("m"),
    "messages": st.lists(
        st.fixed_dictionaries({"role": st.sampled_from(["system", "user"]), "content": st.text()}),
        min_size=1,
        max_size=3,
    ),
    "prompt": TEXTS,
    "input": TEXTS,
}
SETTING = st.integers(-1, 8) | st.floats(-0.5, 2.5) | st.booleans() | st.none() | FIELD_VALUE


def bodies(model) -> st.SearchStrategy:
    """JSON bodies: the model's own fields (required ones mostly valid, others anything) and unknown keys, or any
    JSON value at all."""
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    near_valid = st.fixed_dictionaries(
        {name: LIKELY.get(name, FIELD_VALUE) | LIKELY.get(name, FIELD_VALUE) | FIELD_VALUE for name in required},
        optional={name: SETTING for name in model.model_fields if name not in required},
    )
    keys = st.sampled_from([*model.model_fields, "unknown"]) | st.text(max_size=6)
    return near_valid | near_valid | st.dictionaries(keys, FIELD_VALUE, max_size=8) | JSON


def answer_400(err: ValidationError) -> dict:
    problems = [{**problem, "loc": ("body", *problem["loc"])} for problem in err.errors()]  # as FastAPI reports
    message = "; ".join(_describe(problem) for problem in problems)
    response = error_response(400, message, _field(problems[0].get("loc", ()) if problems else ()))
    return json.loads(response.body)


@FAST
@given(data=st.data(), model=st.sampled_from(REQUESTS))
def test_any_body_validates_or_becomes_a_400(data, model):
    body = data.draw(bodies(model))
    try:
        request = model.model_validate(body)
    except ValidationError as err:
        answer = answer_400(err)
        assert answer["error"]["type"] == "invalid_request_error" and answer["error"]["message"]
        event("400")
        return
    event("valid")
    assert isinstance(body, dict) and request.model_dump()  # a valid request is a mapping and serialises
