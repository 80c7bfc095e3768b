"""RunFolder: one run's folder, its layout, and its run.json (status, timings, versions, lineage).

Layout::

    runs/<name>-<YYYYmmdd-HHMMSS>/
        config.yaml     the resolved config          plan.json     the plan with reasons
        run.json        status, parent, timings      data/         the exact train/valid/test splits
        adapter/        the trained LoRA adapter      checkpoints/  one per epoch
        (model/         a full fine-tune, or an embedding run's sentence model, instead of adapter/)
        logs/           train_log.jsonl               metrics.json, metrics.csv, predictions.jsonl

run.json's ``status`` is what the run last wrote: ``running`` stays there when its process is killed. While it
runs, run.json also names that process (``process``: pid, host, start time), so that
:func:`tunesmith.runs.status.effective_status` can tell a run still going from one that was stopped
(``interrupted``: finish it with ``tunesmith train --resume``).
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tunesmith.atomic import write_json, write_text
from tunesmith.errors import RunError
from tunesmith.runs.status import PREPARING, process_record

# What the end of a run writes (after training): an interrupted attempt's copies are cleared before a resume.
OUTPUTS = ("adapter", "model", "model-int8", "metrics.json", "metrics.csv", "predictions.jsonl")
OUTPUTS += ("report.md", "report.html", "report")


@dataclass
class RunFolder:
    path: Path

    @classmethod
    def create(cls, runs_dir: Path, name: str) -> RunFolder:
        """Make a new, empty run folder; an existing folder is never reused."""
        runs_dir = Path(runs_dir)
        runs_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for attempt in range(1000):
            path = runs_dir / (f"{name}-{stamp}" if attempt == 0 else f"{name}-{stamp}-{attempt}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return cls(path)
        raise RunError(f"{runs_dir}: cannot find a free run folder name for {name}-{stamp}")

    @classmethod
    def open(cls, path: Path) -> RunFolder:
        path = Path(path)
        if not (path / "run.json").is_file():
            raise RunError(f"{path}: not a tunesmith run folder (no run.json)")
        return cls(path)

    @property
    def trust_remote_code(self) -> bool:
        """Whether the run's config.yaml lets its model folder's own code run (``model.trust_remote_code``)."""
        import yaml

        path = self.path / "config.yaml"
        config = (yaml.safe_load(path.read_text()) if path.is_file() else None) or {}
        return bool((config.get("model") or {}).get("trust_remote_code"))

    @property
    def adapter_dir(self) -> Path:
        return self.path / "adapter"

    @property
    def model_dir(self) -> Path:
        """The whole trained model: a full fine-tune's transformers folder, or an embedding run's sentence model."""
        return self.path / "model"

    @property
    def trained_dir(self) -> Path:
        """What a generative run trained: ``model/`` where it fine-tuned every weight, else its LoRA ``adapter/``."""
        return self.model_dir if (self.model_dir / "config.json").is_file() else self.adapter_dir

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    def last_complete_checkpoint(self, world_size: int = 1) -> Path | None:
        """The newest checkpoint the trainer finished writing; half-written ones (a crash mid-save) are removed.

        transformers writes ``trainer_state.json`` last, so a checkpoint without it is incomplete; with several
        processes, each also writes its own random state, and the main one may finish before the others. Runs
        trained in stages keep each stage's checkpoints in ``checkpoints/<stage>/``; the newest written wins.
        """
        complete = []
        for folder in self._checkpoints():
            if _is_complete(folder, world_size):
                complete.append(folder)
            else:
                shutil.rmtree(folder)
        return max(complete, key=_written_at, default=None)

    def newest_checkpoint(self, world_size: int = 1) -> Path | None:
        """What :meth:`last_complete_checkpoint` would resume from, removing nothing (for messages)."""
        complete = [folder for folder in self._checkpoints() if _is_complete(folder, world_size)]
        return max(complete, key=_written_at, default=None)

    def _checkpoints(self) -> list[Path]:
        found = [*self.checkpoints_dir.glob("checkpoint-*"), *self.checkpoints_dir.glob("*/checkpoint-*")]
        return sorted(found, key=_checkpoint_step)

    def clear_outputs(self) -> list[str]:
        """Remove what an interrupted attempt wrote after training (the trained weights, scores), so that a resumed
        run writes them anew; each is renamed first, so a crash here leaves a hidden leftover, never half a folder.
        Returns the names removed."""
        self.clear_leftovers()
        removed = []
        for name in OUTPUTS:
            target = self.path / name
            if target.exists():
                trash = target.with_name(f".stale-{name}")
                shutil.rmtree(trash, ignore_errors=True)
                target.rename(trash)
                if trash.is_dir():
                    shutil.rmtree(trash)
                else:
                    trash.unlink()
                removed.append(name)
        return removed

    def clear_leftovers(self) -> None:
        """Remove the staged copies (hidden temp files and folders) of outputs a killed process was writing."""
        for leftover in self.path.glob(".*-*"):
            if leftover.name.startswith(tuple(f".{name}-" for name in OUTPUTS)):
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()

    def read_json(self, name: str) -> Any:
        return json.loads((self.path / name).read_text())

    def write_json(self, name: str, data: Any) -> None:
        write_json(self.path / name, data)

    def write_text(self, name: str, text: str) -> None:
        write_text(self.path / name, text)

    def start(self, parent: dict, data_files: dict | None = None) -> None:
        """Write run.json: ``parent`` is ``{"kind": "base_model" | "run", "name": ..., "path": ...}``."""
        self.write_json(
            "run.json",
            {
                "status": "running",
                "stage": PREPARING,  # the pipeline moves it on (training, scoring...): where a stop happened
                "parent": parent,
                "data_files": data_files or {},
                "started_at": datetime.now().isoformat(timespec="seconds"),
                "started_unix": time.time(),
                "versions": _versions(),
                "host": {"python": platform.python_version(), "platform": platform.platform()},
                "process": process_record(),
            },
        )

    def resume_started(self, resumed_from: str | None) -> None:
        """Mark a stopped run running again, by this process, from the checkpoint ``resumed_from``."""
        self.update(status="running", resumed_from=resumed_from)

    def update(self, **fields: Any) -> None:
        """Set fields of run.json; setting ``status="running"`` also records this process as the one running it."""
        if fields.get("status") == "running" and "process" not in fields:
            fields["process"] = process_record()
        record = self.read_json("run.json")
        record.update(fields)
        self.write_json("run.json", record)

    def finish(self, status: str = "done", **fields: Any) -> None:
        record = self.read_json("run.json")
        record.update(fields, status=status, finished_at=datetime.now().isoformat(timespec="seconds"))
        record["wall_seconds"] = round(time.time() - record["started_unix"], 1)
        self.write_json("run.json", record)


def _is_complete(checkpoint: Path, world_size: int) -> bool:
    try:  # written last, and not atomically: a process killed while writing it leaves it cut short
        json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return world_size == 1 or all((checkpoint / f"rng_state_{rank}.pth").is_file() for rank in range(world_size))


def _written_at(checkpoint: Path) -> tuple[int, int]:
    """When the trainer finished the checkpoint (its state file is written last), then its step."""
    return (checkpoint / "trainer_state.json").stat().st_mtime_ns, _checkpoint_step(checkpoint)


def _checkpoint_step(folder: Path) -> int:
    suffix = folder.name.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else -1


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("tunesmith", "torch", "transformers", "peft", "accelerate"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found
