"""Whether a run recorded as running still runs: run.json names its process (pid, host, start time), and a
killed run shows as ``interrupted`` (``tunesmith train --resume RUN`` finishes it) instead of running forever."""

from __future__ import annotations

import os
import socket
from pathlib import Path

INTERRUPTED = "interrupted"
PREPARING = "preparing"  # run.json's first stage: its config, plan and splits are being written
UNKNOWN_PROCESS = "running (unknown process)"


def process_record() -> dict:
    """Who runs a run: this process's id, the host's name, and (on Linux) the process's start time, so that a
    later process given the same id is not taken for it."""
    pid = os.getpid()
    stat = _process_stat(pid)
    return {"pid": pid, "host": socket.gethostname(), "started": stat[1] if stat else None}


def effective_status(record: dict) -> str:
    """A run's status as it stands now, from its run.json ``record``: the recorded status, except that a run
    recorded as ``running``

    * is ``running`` while the process that runs it is alive on this host (same pid, and the same start time
      where it was recorded: Linux);
    * is ``interrupted`` when it ran on this host and that process is gone (or its pid is now another process's);
      ``tunesmith train --resume RUN`` finishes it; ``failed`` when it was gone while still ``preparing`` (its
      plan or splits may be missing: such a run is started again, not resumed);
    * is ``running (on HOST)`` when it runs on another host: whether that process lives cannot be told from here;
    * is ``running (unknown process)`` when run.json names no process (written before tunesmith recorded one):
      it may be running or may have been stopped, so it is neither called running nor interrupted.

    Hosts are told apart by name (socket.gethostname()): a container usually has its own. On Windows, where a
    process cannot be probed without ending it, a run recorded as running stays ``running``.
    """
    status = record.get("status", "?")
    if status != "running":
        return status
    process = record.get("process")
    if not isinstance(process, dict) or not isinstance(process.get("pid"), int):
        return UNKNOWN_PROCESS
    host = process.get("host")
    if host != socket.gethostname():
        return f"running (on {host})"
    if _is_alive(process["pid"], process.get("started")):
        return "running"
    return "failed" if record.get("stage") == PREPARING else INTERRUPTED


def stop_reason(record: dict, status: str) -> str:
    """Why a run in ``status`` stopped, and where (run.json's ``error`` and ``stage``); "" for a finished or
    running one."""
    if status not in ("failed", INTERRUPTED):
        return ""
    stage = record.get("stage")
    reason = record.get("error") or ("the process was killed" if record.get("status") == "running" else "")
    where = f"while {stage}" if stage else ""
    return ", ".join(part for part in (where, reason) if part)


def _is_alive(pid: int, started: int | None) -> bool:
    """Whether process ``pid`` exists (a zombie does not count) and, if ``started`` is known, started then."""
    if os.name == "nt":
        return True  # os.kill there would end the process: assume it lives (a stopped run stays "running")
    if pid <= 0:
        return False
    other_user = False
    try:
        os.kill(pid, 0)
    except PermissionError:
        other_user = True  # it exists, under another user
    except OSError:  # ProcessLookupError: no such process
        return False
    stat = _process_stat(pid)
    if stat is None:
        # No /proc (macOS, BSD), or /proc hides other users' processes (hidepid): the pid alone has to do.
        # Otherwise the process ended a moment ago.
        return other_user or not Path(f"/proc/{os.getpid()}/stat").is_file()
    state, start = stat
    return state not in ("Z", "X") and (started is None or start == started)


def _process_stat(pid: int) -> tuple[str, int] | None:
    """A process's state and start time (clock ticks after boot: field 22 of /proc/<pid>/stat); None without
    /proc, or when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2, the command name, is in parentheses and may hold spaces or ")": count fields after the last ")".
    fields = text[text.rindex(")") + 1 :].split()
    return fields[0], int(fields[19])
