"""Config files as Windows editors write them (BOM, CRLF), and bytes or values that are not a config."""

import codecs

import pytest

from tunesmith.config import load_config
from tunesmith.errors import ConfigError

YAML = """\
name: x
model:
  system_prompt: Réponds en français
data:
  train: train.jsonl
  encoding: cp1252
lora:
  r: 8
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_yaml_config_with_bom_and_crlf(tmp_path, newline):
    path = tmp_path / "run.yaml"
    path.write_bytes(codecs.BOM_UTF8 + YAML.replace("\n", newline).encode())
    config = load_config(path)
    assert (config.model.system_prompt, config.lora.r, config.data.encoding) == ("Réponds en français", 8, "cp1252")
    assert config.data.train == (tmp_path / "train.jsonl").resolve()


def test_json_config_with_bom(tmp_path):
    path = tmp_path / "run.json"
    path.write_bytes(codecs.BOM_UTF8 + b'{"data": {"train": "t.csv"}, "lora": {"r": 4}}\r\n')
    assert load_config(path).lora.r == 4


def test_undecodable_config_names_the_line_and_byte_offset(tmp_path):
    content = b"name: x\r\ndata:\r\n  train: caf\xe9.jsonl\r\n"
    path = tmp_path / "run.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}:3: byte offset {content.index(0xE9)} (0xe9) is not valid utf-8 (invalid continuation byte); "
        "save the config file as UTF-8"
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: 2024-13-45\n", "not valid YAML"),  # an impossible date: PyYAML raises ValueError
        ("data: [" * 5000, "not valid YAML"),
        ('{"data": ' + "1" * 5000 + "}", "not valid JSON"),
    ],
)
def test_malformed_configs_are_config_errors(tmp_path, text, message):
    path = tmp_path / ("run.json" if text.startswith("{") else "run.yaml")
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)
