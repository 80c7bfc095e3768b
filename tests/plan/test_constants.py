"""The planner's constants: one table, each value citing the measurement it came from or marked an estimate."""

import ast
import re
from pathlib import Path

import pytest

from tunesmith.plan import embedding, make
from tunesmith.plan.constants import CONSTANTS, DATASETS, value, values

ROOT = Path(__file__).resolve().parents[2]
BENCH_FILE = re.compile(r"bench/[\w/]+\.py")


def cited_bench_files(source: str) -> list[str]:
    return BENCH_FILE.findall(source)


@pytest.mark.parametrize("name", sorted(CONSTANTS))
def test_every_constant_cites_a_bench_script_or_a_data_set_or_says_it_is_an_estimate(name):
    source = CONSTANTS[name].source.strip()
    assert source and CONSTANTS[name].about.strip(), name
    benches = cited_bench_files(source)
    for path in benches:
        assert (ROOT / path).is_file(), f"{name} cites {path}, which does not exist"
    assert benches or any(dataset in source for dataset in DATASETS) or source.startswith("estimate"), name


def test_the_check_catches_a_missing_citation_and_a_bench_script_that_does_not_exist():
    assert cited_bench_files("bench/train_step_speed.py on 2 cores") == ["bench/train_step_speed.py"]
    assert cited_bench_files("see bench/embedding_stsb.py's runs") == ["bench/embedding_stsb.py"]
    assert not (ROOT / "bench/no_such_bench.py").is_file()
    assert not any(dataset in "measured once on a laptop" for dataset in DATASETS)


def test_the_planners_module_names_are_the_table_values():
    assert make.EPOCHS_BY_SIZE == value("lm.EPOCHS_BY_SIZE")
    assert make.TRAIN_EFFICIENCY == values("lm.TRAIN_EFFICIENCY") == {"cpu": 0.34, "cuda": 0.35, "mps": 0.25}
    assert make.TOKENS_PER_MICRO_BATCH == {"cpu": 512, "cuda": 16384, "mps": 4096}
    assert make.GENERATION_BEAMS == {"fast": 1, "quality": 4}
    assert embedding.EPOCHS_BY_SIZE == value("embedding.EPOCHS_BY_SIZE")
    assert embedding.MEASURED_TEXTS_PER_SECOND == {"cpu": 125.0, "cuda": 2000.0, "mps": 500.0}
    assert embedding.FP32_CPU_TEXTS_PER_SECOND == 58.0
    assert embedding.LEARNING_RATE == {"full": 5e-5, "lora": 1e-3}
    assert embedding.BATCH_SIZE == {"pair": 16, "ranking": 64}


def test_every_constant_is_read_by_a_planner():
    plan = ROOT / "src" / "tunesmith" / "plan"
    planners = (plan / "make.py").read_text() + (plan / "embedding.py").read_text()
    planners += (plan.parent / "tasks" / "decoding.py").read_text()  # the decoding chosen after training
    for name in CONSTANTS:  # by its name, or by the group values() gathers it in ("lm.TRAIN_EFFICIENCY")
        assert f'"{name}"' in planners or f'"{name.rsplit(".", 1)[0]}"' in planners, name


def test_no_module_imports_another_modules_private_names_from_the_plan():
    found = []
    for path in sorted((ROOT / "src" / "tunesmith").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tunesmith.plan"):
                found += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert not found
