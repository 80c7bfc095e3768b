"""``tunesmith ui``: a local web app over a runs folder, on FastAPI (as ``serve``) with server-rendered pages.

The runs with their status and key scores (choose some to compare, settings that differ highlighted), a run's
page (scores, plan with reasons, first predictions, its report, a loss chart that follows a run while it trains,
making it the current run after a confirmation), a config's plan, and runs started from a config as background
``tunesmith train`` processes whose log follows on the page and that a stop button ends as Ctrl-C does (a
checkpoint at the step, resumable). An API key (as for ``serve``) is needed when it listens beyond loopback.
"""

import itertools  # no `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tunesmith.errors import TunesmithError

KEY_COOKIE = "tunesmith_key"
LOG_TAIL = 20_000  # characters of a job's log sent to the page


@dataclass
class Job:
    process: subprocess.Popen
    log: Path
    config: str

    def state(self) -> dict:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.is_file() else ""
        found = re.search(r"run folder: (\S+)", text)
        return {
            "config": self.config,
            "running": self.process.poll() is None,
            "returncode": self.process.returncode,
            "run": Path(found.group(1)).name if found else None,
            "log": text[-LOG_TAIL:],
        }


class Jobs:
    """Runs started from the page: each a ``tunesmith train CONFIG`` child process logging to a file."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.jobs, self.lock, self.ids = folder, {}, threading.Lock(), itertools.count(1)

    def start(self, config: str) -> int:
        with self.lock:
            number = next(self.ids)
            self.folder.mkdir(parents=True, exist_ok=True)
            log = self.folder / f"job-{os.getpid()}-{number}.log"
            env = {**os.environ, "COLUMNS": "1000", "PYTHONUNBUFFERED": "1"}  # unwrapped lines, as they come
            with log.open("wb") as handle:
                process = subprocess.Popen(
                    [sys.executable, "-m", "tunesmith.cli", "train", config],
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    start_new_session=True,  # Ctrl-C on the UI leaves its runs training; the stop button stops one
                )
            self.jobs[number] = Job(process, log, config)
            return number

    def get(self, number: int) -> Job | None:
        return self.jobs.get(number)


def create_app(runs_dir: Path, api_key: str | None = None):
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
    from pydantic import BaseModel

    from tunesmith.runs.registry import current_run, scan, set_current
    from tunesmith.runs.status import effective_status, stop_reason
    from tunesmith.ui import pages

    runs_dir = Path(runs_dir).resolve()
    jobs = Jobs(runs_dir / ".ui-jobs")
    app = FastAPI(title=f"tunesmith ui: {runs_dir}")
    app.state.jobs = jobs

    class ConfigBody(BaseModel):
        config: str

    @app.middleware("http")
    async def require_key(request: Request, call_next):
        if request.method == "POST":  # starts processes: never on behalf of another site open in the browser
            origin = request.headers.get("origin")
            if origin and urlsplit(origin).netloc != request.headers.get("host"):
                return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return JSONResponse({"detail": "send JSON (Content-Type: application/json)"}, status_code=415)
        if api_key and request.url.path != "/login":
            given = request.cookies.get(KEY_COOKIE) or request.headers.get("authorization", "").removeprefix("Bearer ")
            if not secrets.compare_digest(given.encode(), api_key.encode()):
                return JSONResponse({"detail": "missing or wrong key: open /login?key=KEY once"}, status_code=401)
        return await call_next(request)

    @app.get("/login")
    def login(key: str = ""):
        if not api_key or not secrets.compare_digest(key.encode(), api_key.encode()):
            raise HTTPException(401, "wrong key")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(KEY_COOKIE, key, httponly=True, samesite="strict")
        return response

    def run_folder(name: str) -> Path:
        path = runs_dir / name
        if "/" in name or name.startswith(".") or not (path / "run.json").is_file():
            raise HTTPException(404, f"no run '{name}' in {runs_dir}")
        return path

    def read_json(path: Path) -> dict:
        import json

        return json.loads(path.read_text()) if path.is_file() else {}

    @app.get("/", response_class=HTMLResponse)
    def runs_page():
        return pages.runs_page(runs_dir, scan(runs_dir), current_run(runs_dir))

    @app.get("/runs/{name}", response_class=HTMLResponse)
    def run_page(name: str):
        from tunesmith.metrics.results import read_metrics

        path = run_folder(name)
        record = read_json(path / "run.json")
        status = effective_status(record)
        metrics = read_metrics(path) if (path / "metrics.json").is_file() else {}
        return pages.run_page(
            path, record, status, stop_reason(record, status), metrics, read_json(path / "plan.json")
        )

    @app.get("/runs/{name}/report")
    def report(name: str):
        path = run_folder(name) / "report.html"
        if not path.is_file():
            raise HTTPException(404, "the run has no report yet")
        return FileResponse(path, media_type="text/html")

    @app.get("/api/runs")
    def runs_json():
        current = current_run(runs_dir)
        return [
            {"name": run.name, "status": run.status, "reason": run.reason, "metrics": run.metrics,
             "current": run.path == current}
            for run in scan(runs_dir)
        ]  # fmt: skip

    @app.get("/api/runs/{name}/log")
    def training_log(name: str):
        from tunesmith.reports.build import training_log as read_log

        path = run_folder(name)
        rows = read_log(path) if (path / "logs").is_dir() else []
        status = effective_status(read_json(path / "run.json"))
        last = rows[-1] if rows else {}
        max_steps, step, elapsed = last.get("max_steps"), last.get("step"), last.get("elapsed_s")
        eta = None
        if status == "running" and max_steps and step and elapsed:
            eta = round(elapsed / step * (max_steps - step), 1)
        return {"status": status, "rows": rows, "max_steps": max_steps, "eta_seconds": eta}

    @app.post("/api/runs/{name}/current")
    def make_current(name: str):
        try:
            set_current(runs_dir, run_folder(name))
        except TunesmithError as err:
            raise HTTPException(400, str(err)) from None
        return {"current": name}

    @app.post("/api/plan")
    def plan(body: ConfigBody):
        from tunesmith.config import load_config
        from tunesmith.pipeline import prepare

        try:
            prepared = prepare(load_config(body.config))
        except TunesmithError as err:
            raise HTTPException(400, str(err)) from None
        choices = prepared.plan.to_dict()["choices"]
        lines = [f"{key}: {choice['value']}  ({choice.get('reason', '')})" for key, choice in choices.items()]
        return {"text": "\n".join(lines), "plan": prepared.plan.to_dict()}

    @app.post("/api/jobs")
    def start_job(body: ConfigBody):
        from tunesmith.config import load_config

        try:
            load_config(body.config)  # a bad config is said here, before a process starts
        except TunesmithError as err:
            raise HTTPException(400, str(err)) from None
        return {"id": jobs.start(body.config)}

    @app.get("/api/jobs/{number}")
    def job_state(number: int):
        job = jobs.get(number)
        if job is None:
            raise HTTPException(404, f"no job {number}")
        return job.state()

    @app.post("/api/jobs/{number}/stop")
    def stop_job(number: int):
        job = jobs.get(number)
        if job is None:
            raise HTTPException(404, f"no job {number}")
        if job.process.poll() is None:
            job.process.send_signal(signal.SIGINT)  # as Ctrl-C: a checkpoint at the step, then resumable
        return {"stopping": True}

    @app.get("/compare", response_class=HTMLResponse)
    def compare(request: Request):
        from tunesmith.runs.compare import collect

        names = request.query_params.getlist("run")
        if len(names) < 2:
            raise HTTPException(400, "choose two runs or more (?run=A&run=B)")
        return pages.compare_page(collect([run_folder(name) for name in names]))

    return app
