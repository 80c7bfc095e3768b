"""The web UI's HTML: small server-rendered pages (no build step, no file fetched from elsewhere) with a little
plain JavaScript for what changes while a run trains (its loss chart, a started job's log)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:72rem;padding:0 1rem;color:#1f2328}
table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f6f8fa}tr.differs td{background:#fff8c5;font-weight:600}
.status-interrupted,.status-failed{color:#9a6700}.status-done{color:#1a7f37}.current{font-weight:700}
nav a{margin-right:1rem}pre{background:#f6f8fa;padding:.5rem;max-height:20rem;overflow:auto;white-space:pre-wrap}
svg{border:1px solid #d0d7de;background:#fff}.muted{color:#656d76}input[type=text]{width:32rem}
"""

CHART_SCRIPT = """
async function refreshChart(name) {
  const reply = await fetch(`/api/runs/${encodeURIComponent(name)}/log`);
  if (!reply.ok) return;
  const body = await reply.json();
  const points = body.rows.filter(r => typeof r.loss === 'number');
  const svg = document.getElementById('loss-chart');
  const line = document.getElementById('loss-line');
  const info = document.getElementById('live-info');
  if (points.length) {
    const steps = points.map(p => p.step), losses = points.map(p => p.loss);
    const x0 = Math.min(...steps), x1 = Math.max(...steps, x0 + 1);
    const y0 = Math.min(...losses), y1 = Math.max(...losses, y0 + 1e-9);
    const w = svg.viewBox.baseVal.width, h = svg.viewBox.baseVal.height;
    const x = p => (10 + (p.step - x0) / (x1 - x0) * (w - 20)).toFixed(1);
    const y = p => (h - 10 - (p.loss - y0) / (y1 - y0) * (h - 20)).toFixed(1);
    line.setAttribute('points', points.map(p => `${x(p)},${y(p)}`).join(' '));
    svg.dataset.points = points.length;
    const last = body.rows[body.rows.length - 1];
    const evals = body.rows.filter(r => Object.keys(r).some(k => k.startsWith('eval_') && k !== 'eval_runtime'));
    const lastEval = evals.length ? evals[evals.length - 1] : null;
    const metric = lastEval ? Object.keys(lastEval).find(k => k.startsWith('eval_') && !k.endsWith('_runtime')
      && !k.endsWith('_per_second')) : null;
    const loss = points[points.length - 1].loss.toFixed(4);
    info.textContent = `step ${last.step} of ${body.max_steps ?? '?'}, loss ${loss}`
      + (last.learning_rate !== undefined ? `, learning rate ${Number(last.learning_rate).toExponential(2)}` : '')
      + (last.phase ? `, phase ${last.phase}` : '')
      + (metric ? `, validation ${metric.slice(5)} ${Number(lastEval[metric]).toFixed(4)}` : '')
      + (body.eta_seconds != null ? `, about ${Math.ceil(body.eta_seconds / 60)} min left` : '');
  }
  document.getElementById('run-status').textContent = body.status;
  if (body.status === 'running') setTimeout(() => refreshChart(name), 1000);
}
"""

JOBS_SCRIPT = """
async function post(url, body) {
  const reply = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(body || {})});
  const data = await reply.json();
  if (!reply.ok) throw new Error(data.detail || reply.statusText);
  return data;
}
async function showPlan() {
  const out = document.getElementById('job-output');
  try { out.textContent = (await post('/api/plan', {config: document.getElementById('config').value})).text; }
  catch (err) { out.textContent = 'error: ' + err.message; }
}
async function startRun() {
  const out = document.getElementById('job-output');
  try {
    const job = await post('/api/jobs', {config: document.getElementById('config').value});
    document.getElementById('stop').dataset.job = job.id;
    document.getElementById('stop').disabled = false;
    followJob(job.id);
  } catch (err) { out.textContent = 'error: ' + err.message; }
}
async function followJob(id) {
  const job = await (await fetch(`/api/jobs/${id}`)).json();
  document.getElementById('job-output').textContent = job.log;
  const link = document.getElementById('job-run');
  if (job.run) { link.href = `/runs/${encodeURIComponent(job.run)}`; link.textContent = job.run; }
  document.getElementById('job-state').textContent = job.running ? 'running' : `finished (exit ${job.returncode})`;
  if (job.running) setTimeout(() => followJob(id), 1000);
  else document.getElementById('stop').disabled = true;
}
async function stopRun() {
  const id = document.getElementById('stop').dataset.job;
  if (id) await post(`/api/jobs/${id}/stop`);
}
async function makeCurrent(name) {
  if (!confirm(`Make ${name} the current run (what serve and export use)?`)) return;
  const data = await post(`/api/runs/${encodeURIComponent(name)}/current`);
  document.getElementById('current-note').textContent = `current run: ${data.current}`;
}
function compareChosen() {
  const chosen = [...document.querySelectorAll('input.pick:checked')].map(box => box.value);
  if (chosen.length < 2) { alert('choose two runs or more'); return; }
  location.href = '/compare?' + chosen.map(name => 'run=' + encodeURIComponent(name)).join('&');
}
"""


def page(title: str, body: str, script: str = "") -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{STYLE}</style><script>{JOBS_SCRIPT}{script}</script></head><body>"
        f"<nav><a href='/'>runs</a></nav><h1>{escape(title)}</h1>{body}</body></html>"
    )


def runs_page(runs_dir: Path, runs: list, current: Path | None) -> str:
    rows = []
    for run in runs:
        scores = ", ".join(f"{name} {value:.3f}" for name, value in run.metrics.items() if value is not None)
        marker = " (current)" if run.path == current else ""
        parent = run.parent.get("name", "?") if run.parent.get("kind") != "run" else f"run {run.parent.get('name')}"
        reason = f" <span class=muted>({escape(run.reason)})</span>" if run.reason else ""
        rows.append(
            f"<tr data-run='{escape(run.name)}'><td><input type=checkbox class=pick value='{escape(run.name)}'></td>"
            f"<td class='{'current' if marker else ''}'><a href='/runs/{escape(run.name)}'>{escape(run.name)}</a>"
            f"{marker}</td><td class='status-{escape(run.status.split()[0])}'>{escape(run.status)}{reason}</td>"
            f"<td>{escape(parent)}</td><td>{escape(scores)}</td></tr>"
        )
    table = (
        "<table id=runs><tr><th></th><th>run</th><th>status</th><th>parent</th><th>scores (tuned)</th></tr>"
        + "".join(rows)
        + "</table><button onclick='compareChosen()'>compare the chosen runs</button>"
        if rows
        else f"<p>no runs in {escape(str(runs_dir))} yet</p>"
    )
    start = (
        "<h2>Plan or start a run</h2><p><input type=text id=config placeholder='path to a config (YAML or JSON)'>"
        " <button onclick='showPlan()'>plan</button> <button onclick='startRun()'>train</button>"
        " <button id=stop disabled onclick='stopRun()'>stop (Ctrl-C: a checkpoint, then resumable)</button></p>"
        "<p>job: <span id=job-state class=muted>none</span> <a id=job-run></a></p><pre id=job-output></pre>"
    )
    return page(f"tunesmith runs: {runs_dir}", table + start)


def run_page(run_path: Path, record: dict, status: str, reason: str, metrics: dict, plan: dict) -> str:
    from tunesmith.metrics.results import models, primary

    name = run_path.name
    parts = [
        f"<p>status <b id=run-status>{escape(status)}</b>{f' ({escape(reason)})' if reason else ''}; "
        f"parent {escape(str(record.get('parent', {}).get('name')))}; started {escape(record.get('started_at', ''))}"
        f"{'; stage ' + escape(str(record['stage'])) if status == 'running' and record.get('stage') else ''}</p>",
        f"<p><button onclick='makeCurrent({json.dumps(name)})'>make this the current run</button>"
        " <span id=current-note class=muted></span>"
        + (f" <a href='/runs/{escape(name)}/report'>report</a>" if (run_path / "report.html").is_file() else "")
        + "</p>",
        "<h2>Training</h2><p id=live-info class=muted></p>"
        "<svg id=loss-chart viewBox='0 0 640 240' width=640 height=240 data-points=0>"
        "<polyline id=loss-line fill=none stroke='#0969da' stroke-width=2 points=''/></svg>",
    ]
    if metrics:
        metric, greater = primary(metrics)
        scored = models(metrics)
        names = [key for key in next(iter(scored.values()))["overall"] if key != "n"] if scored else []
        header = "".join(f"<th>{escape(key)}</th>" for key in names)
        body = "".join(
            f"<tr><td>{escape(label)}</td>"
            + "".join(f"<td>{_cell(summary['overall'].get(key))}</td>" for key in names)
            + "</tr>"
            for label, summary in scored.items()
        )
        direction = "higher" if greater else "lower"
        parts.append(
            f"<h2>Scores on the test split</h2><p>primary metric {escape(metric)} ({direction} is better)</p>"
            f"<table id=scores><tr><th>model</th>{header}</tr>{body}</table>"
        )
    choices = plan.get("choices", {})
    if choices:
        rows = "".join(
            f"<tr><td>{escape(key)}</td><td>{escape(_cell(choice.get('value')))}</td>"
            f"<td>{escape(str(choice.get('reason', '')))}</td></tr>"
            for key, choice in choices.items()
        )
        parts.append(f"<h2>Plan</h2><table id=plan><tr><th>setting</th><th>value</th><th>why</th></tr>{rows}</table>")
    predictions = _first_lines(run_path / "predictions.jsonl", 10)
    if predictions:  # the texts, then each model's answer ({"base": {"answer": ...}, "tuned": {...}})
        texts = [key for key in ("question", "text", "input", "reference") if key in predictions[0]]
        labels = [key for key, value in predictions[0].items() if isinstance(value, dict) and "answer" in value]
        head = "".join(f"<th>{escape(key)}</th>" for key in texts + labels)
        rows = "".join(
            "<tr>"
            + "".join(f"<td>{escape(_cell(row.get(key)))}</td>" for key in texts)
            + "".join(f"<td>{escape(_cell(row.get(label, {}).get('answer')))}</td>" for label in labels)
            + "</tr>"
            for row in predictions
        )
        parts.append(f"<h2>Predictions (first {len(predictions)})</h2><table><tr>{head}</tr>{rows}</table>")
    script = f"window.addEventListener('load', () => refreshChart({json.dumps(name)}));"
    return page(f"run {name}", "".join(parts), CHART_SCRIPT + script)


def compare_page(comparison: dict) -> str:
    head = "".join(f"<th>{escape(name)}</th>" for name in comparison["runs"])
    rows = []
    for section, key, values, differs in comparison["rows"]:
        if section == "config" and not differs:
            continue  # equal config entries are noise, as in `tunesmith compare`
        cells = "".join(f"<td>{escape(_cell(value))}</td>" for value in values)
        rows.append(f"<tr class='{'differs' if differs else ''}'><td>{section}</td><td>{escape(key)}</td>{cells}</tr>")
    table = f"<table id=compare><tr><th>section</th><th>setting</th>{head}</tr>{''.join(rows)}</table>"
    return page("runs side by side", "<p>differing settings highlighted</p>" + table)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return value if isinstance(value, str) else json.dumps(value)


def _first_lines(path: Path, count: int) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if len(rows) == count:
                break
            if line.strip():
                rows.append(json.loads(line))
    return rows
