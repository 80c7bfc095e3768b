"""What the machine can do: cores, memory, bf16 support, and a measured matrix-multiply speed.

The device is chosen as transformers' Trainer chooses it when it is not told to use the CPU: a CUDA GPU, else
Apple's GPU through MPS, else the CPU. On MPS the plan trains in fp32 (``training.bf16: true`` overrides it):
tunesmith has not measured mixed precision on an Apple GPU, so the plan does not promise a speed-up it has not seen.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tunesmith.distributed import local_world_size


@dataclass(frozen=True)
class Hardware:
    device: str  # "cpu", "cuda" or "mps"
    name: str
    cores: int
    memory_gb: float | None  # None: it could not be read (the plan then recomputes activations to stay safe)
    bf16: bool
    matmul_gflops: float  # measured, in the dtype training will use: one GPU, or the whole CPU machine
    world_size: int = 1  # processes training together (accelerate launch, torchrun), each on this hardware
    cpp_compiler: bool = False  # a C++ compiler torch.compile's CPU code can be built with (training.compile)

    def to_dict(self) -> dict:
        return asdict(self)


@functools.cache
def detect_hardware(world_size: int = 1) -> Hardware:
    """This process's device, measured; ``world_size`` processes are to train together, each like this one."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        bf16 = torch.cuda.is_bf16_supported()
        return Hardware(
            device="cuda",
            name=props.name,
            cores=os.cpu_count() or 1,
            memory_gb=props.total_memory / 2**30,
            bf16=bf16,
            matmul_gflops=_matmul_gflops(torch.bfloat16 if bf16 else torch.float16, "cuda"),
            world_size=world_size,
        )
    if _mps_available():
        return Hardware(
            device="mps",
            name="Apple GPU (MPS)",
            cores=os.cpu_count() or 1,
            memory_gb=_total_memory_gb(),  # unified memory: the GPU shares the machine's
            bf16=False,
            matmul_gflops=_matmul_gflops(torch.float32, "mps"),
            world_size=world_size,
        )
    bf16 = _cpu_has_bf16()
    # A run's processes on one CPU machine share its cores: measure what the whole machine does, so that the
    # plan (which does not multiply CPU speed by the process count) estimates the same under a launcher.
    sharing = local_world_size()
    threads = torch.get_num_threads()
    torch.set_num_threads(threads * sharing)
    try:
        gflops = _matmul_gflops(torch.bfloat16 if bf16 else torch.float32, "cpu")
    finally:
        torch.set_num_threads(threads)
    return Hardware(
        device="cpu",
        name=_cpu_name(),
        cores=threads * sharing,
        memory_gb=_total_memory_gb(),
        bf16=bf16,
        matmul_gflops=gflops,
        world_size=world_size,
        cpp_compiler=cpp_compiler() is not None,
    )


def cpp_compiler() -> str | None:
    """The C++ compiler torch.compile (inductor) builds CPU code with, where it is installed; else None."""
    from torch._inductor.cpp_builder import get_cpp_compiler

    try:
        compiler = get_cpp_compiler()
    except Exception:  # inductor raises its own error types where it finds none
        return None
    return shutil.which(compiler) if compiler else None


def _matmul_gflops(dtype, device: str, size: int = 1024, windows: int = 4, seconds: float = 0.1) -> float:
    """Best of a few short timing windows: one slow window (a busy core, kernel set-up) must not skew the plan."""
    import torch

    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    for _ in range(5):
        a @ b
    best = 0.0
    for _ in range(windows):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            a @ b
            count += 1
        _synchronize(device)
        best = max(best, 2 * size**3 * count / (time.perf_counter() - start) / 1e9)
    return best


def _synchronize(device: str) -> None:
    """Wait for queued GPU work, so that a timing window measures it."""
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _cpu_has_bf16() -> bool:
    """bf16 autocast pays on a CPU only with native bf16 dot products (AVX512-BF16 or AMX)."""
    return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"


def _total_memory_gb() -> float | None:
    """The machine's memory, or None when it cannot be read (never 0: a plan must not believe in 0 GiB)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = _darwin_memory_bytes()
    return total / 2**30 if total else None


def _darwin_memory_bytes() -> int | None:
    """macOS has no SC_PHYS_PAGES; sysctl names the installed memory."""
    import subprocess

    try:
        found = subprocess.run(["sysctl", "-n", "hw.memsize"], capture_output=True, text=True, timeout=5)
        return int(found.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
