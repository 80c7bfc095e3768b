"""Several processes, one run: who writes, what is shared, and how ``--processes N`` starts the launcher.

Under ``accelerate launch`` or ``torchrun`` every process runs the same ``tunesmith train``. The Hugging Face
Trainer (through Accelerate) does the data sharding and gradient averaging; this module only keeps the run
consistent: the main process makes the plan and the run folder and writes every file, the others receive the
plan and the folder's path from it and only train.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def world_size() -> int:
    """Processes in this run, as the launcher (accelerate launch, torchrun) set them; 1 without one."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def local_world_size() -> int:
    """Processes of this run on this machine (they share its CPU cores); 1 without a launcher."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def is_main() -> bool:
    """True in the one process that writes run folders, reports and logs (always, without a launcher)."""
    return rank() == 0


def _state():
    """Accelerate's process state; the first call joins the process group (gloo on CPUs, nccl on GPUs)."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())  # without cpu=True it sees no group on a CPU


def share_from_main(make: Callable[[], T]) -> T:
    """``make()`` run on the main process only, its result sent to every process (pickled)."""
    if world_size() == 1:
        return make()
    from accelerate.utils import broadcast_object_list

    _state()
    box = [make() if is_main() else None]
    broadcast_object_list(box, from_process=0)
    return box[0]


def wait_for_everyone() -> None:
    if world_size() > 1:
        _state().wait_for_everyone()


@contextmanager
def main_first():
    """The main process runs the block first (say, to fill a cache); the others then run it and find it filled."""
    if not is_main():
        wait_for_everyone()
    yield
    if is_main():
        wait_for_everyone()


def leave() -> None:
    """Leave the process group once this process's collective work is done (nothing, where it never joined).

    A process that exits inside the group can die in its exit (SIGABRT, "terminate called without an active
    exception": gloo's worker threads still hold work when the interpreter tears down, pytorch/pytorch#190489). It
    happened to a two-process CPU run whose second process returned after training while the main one scored."""
    import torch.distributed

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def take_the_cores() -> None:
    """Once training is over the main process scores alone: on a CPU it takes the cores the others had."""
    sharing = local_world_size()
    if sharing > 1:
        import torch

        torch.set_num_threads(torch.get_num_threads() * sharing)


def launch_command(processes: int, tunesmith_args: list[str]) -> list[str]:
    """``accelerate launch`` starting ``processes`` copies of ``tunesmith <tunesmith_args>`` on this machine.

    Accelerate's multi-process launcher (torch.distributed.run underneath) also serves CPUs: each process then
    joins a gloo process group and trains on a share of the cores.
    """
    if processes < 2:
        raise ValueError("--processes needs at least 2 processes (without it, tunesmith trains in this process)")
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes)]
    command += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    command += ["--main_process_port", os.environ.get("MASTER_PORT") or str(_free_port())]
    command += ["--multi_gpu"]  # accelerate's name for its torch.distributed launcher, GPUs or not
    if not _gpu_count():
        command += ["--num_cpu_threads_per_process", str(max(1, (os.cpu_count() or 1) // processes))]
    return command + ["-m", "tunesmith.cli", *tunesmith_args]


def launch(processes: int, tunesmith_args: list[str]) -> int:
    """Run ``tunesmith <tunesmith_args>`` in ``processes`` processes and wait; the launcher's exit code."""
    environment = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(launch_command(processes, tunesmith_args), env=environment).returncode


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


def _free_port() -> int:
    """A port nobody listens on now: two runs started side by side must not meet at the default 29500."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
