"""Property tests: whatever a config file holds, loading it gives a RunConfig or a ConfigError naming the file.

Never another exception (UnicodeDecodeError, a YAML date's ValueError, RecursionError, a validator's TypeError, ...).
"""

from __future__ import annotations

import codecs
import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tunesmith.config import load_config
from tunesmith.config.schema import RunConfig
from tunesmith.errors import ConfigError

FAST = settings(max_examples=200, deadline=None)
SUFFIXES = st.sampled_from([".yaml", ".yml", ".json"])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner))


def section_fields(section: str) -> list[str]:
    annotation = RunConfig.model_fields[section].annotation
    return list(getattr(annotation, "model_fields", {})) + ["unknown_key"]


# Mappings shaped like configs: real section and key names (read from the schema), values of any type, so that
# generated files reach the validators of each field instead of stopping at the first unknown key.
SECTIONS = [
    name for name in RunConfig.model_fields if hasattr(RunConfig.model_fields[name].annotation, "model_fields")
]
# Values of the types fields take (small numbers, shares, switches, common choices) more often than anything else.
PLAUSIBLE = (
    st.integers(-2, 64) | st.floats(-0.5, 1.5) | st.booleans() | st.none() | st.sampled_from(["auto", "utf-8", "x"])
)
FIELD_VALUES = PLAUSIBLE | PLAUSIBLE | VALUES
SECTION_VALUES = {
    name: st.dictionaries(st.sampled_from(section_fields(name)), FIELD_VALUES, max_size=4) | VALUES
    for name in SECTIONS
}
SECTION_VALUES["data"] = st.fixed_dictionaries(
    {"train": st.just("train.jsonl") | VALUES},
    optional={name: FIELD_VALUES for name in section_fields("data") if name != "train"},
)
TOP = [name for name in RunConfig.model_fields if name not in SECTIONS]
CONFIGS = st.fixed_dictionaries(
    {"data": SECTION_VALUES["data"]},
    optional={
        **{name: strategy for name, strategy in SECTION_VALUES.items() if name != "data"},
        **{name: st.sampled_from(["causal_lm", "summarization", "embedding"]) | VALUES for name in TOP},
    },
)


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def check(path: Path):
    try:
        load_config(path)
    except ConfigError as err:
        assert str(path) in str(err)
        event("ConfigError")
        return
    event("loaded")


@FAST
@given(data=st.binary(max_size=300), suffix=SUFFIXES)
def test_config_loader_on_arbitrary_bytes(folder, data, suffix):
    path = folder / f"run{suffix}"
    path.write_bytes(data)
    check(path)


@FAST
@given(text=st.text(max_size=300), suffix=SUFFIXES, bom=st.booleans())
def test_config_loader_on_arbitrary_text(folder, text, suffix, bom):
    path = folder / f"run{suffix}"
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8", "surrogatepass"))
    check(path)


@FAST
@given(raw=CONFIGS, suffix=SUFFIXES, bom=st.booleans(), crlf=st.booleans())
def test_config_loader_on_config_shaped_mappings(folder, raw, suffix, bom, crlf):
    text = json.dumps(raw) if suffix == ".json" else yaml.safe_dump(raw, allow_unicode=True)
    if crlf:
        text = text.replace("\n", "\r\n")
    path = folder / f"run{suffix}"
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8", "surrogatepass"))
    check(path)
