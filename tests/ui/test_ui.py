"""``tunesmith ui`` over a runs folder of two tiny runs: over HTTP (pages, the training log, compare, current-run
switch, plan, the API key) and in real Chromium (open the runs page and a run, start a run and watch its loss chart
grow, compare two runs). Screenshots of each page go to $TUNESMITH_UI_SHOTS when it is set."""

import json
import os
import time
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.conftest import launch_chromium
from tests.e2e.test_cli import make_config
from tunesmith.config import load_config
from tunesmith.pipeline import train_run
from tunesmith.runs.registry import current_run
from tunesmith.ui import create_app

POINTS = "Number(document.getElementById('loss-chart').dataset.points)"  # the loss chart's points so far


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    """Two finished tiny runs that differ in their learning rate, and a config for a longer third one."""
    folder = tmp_path_factory.mktemp("ui")
    made = []
    for rate in (1e-3, 5e-3):
        training = {"epochs": 2, "batch_size": 4, "bf16": False, "learning_rate": rate}
        config = make_config(folder, tiny_model_dir, training=training, evaluation={"max_new_tokens": 4})
        made.append(train_run(load_config(config)).path)
    longer = yaml.safe_load(config.read_text())
    longer["training"] = {"epochs": 60, "batch_size": 4, "bf16": False}
    longer["output"]["save_checkpoints"] = False
    (folder / "longer.yaml").write_text(yaml.safe_dump(longer))
    return folder / "runs", made, folder / "longer.yaml"


def test_the_pages_show_runs_scores_plan_and_the_differences(runs):
    runs_dir, (first, second), _ = runs
    client = TestClient(create_app(runs_dir))
    home = client.get("/").text
    assert first.name in home and second.name in home and "(current)" in home
    page = client.get(f"/runs/{first.name}").text
    assert "token_f1" in page and "learning_rate" in page and "loss-chart" in page
    assert "<th>question</th><th>reference</th><th>base</th><th>tuned</th>" in page  # each model's answers
    log = client.get(f"/api/runs/{first.name}/log").json()
    assert log["status"] == "done" and [row["step"] for row in log["rows"] if "loss" in row][:2] == [1, 2]
    steps = json.loads((first / "run.json").read_text())["training"]["steps"]
    assert log["rows"][0]["max_steps"] == steps and log["max_steps"] == steps
    compared = client.get("/compare", params=[("run", first.name), ("run", second.name)]).text
    differing = compared.split("class='differs'")
    assert len(differing) > 1 and any("learning_rate" in part.split("</tr>")[0] for part in differing[1:])
    assert client.get(f"/runs/{first.name}/report").text.startswith("<!")
    assert client.get("/runs/..%2F..%2Fetc").status_code == 404 and client.get("/runs/nope").status_code == 404


def test_current_run_switch_plan_and_bad_configs(runs):
    runs_dir, (first, second), longer = runs
    client = TestClient(create_app(runs_dir))
    assert client.post(f"/api/runs/{first.name}/current", json={}).json() == {"current": first.name}
    assert current_run(runs_dir) == first.resolve()
    client.post(f"/api/runs/{second.name}/current", json={})
    assert current_run(runs_dir) == second.resolve()
    plan = client.post("/api/plan", json={"config": str(longer)}).json()
    assert "learning_rate" in plan["text"] and plan["plan"]["choices"]["epochs"]["value"] == 60
    elsewhere = client.post("/api/jobs", json={"config": str(longer)}, headers={"Origin": "https://evil.example"})
    assert elsewhere.status_code == 403  # another site open in the browser cannot start runs
    form = client.post("/api/jobs", content=b'{"config": "x"}', headers={"Content-Type": "text/plain"})
    assert form.status_code == 415 and not client.app.state.jobs.jobs
    missing = client.post("/api/jobs", json={"config": str(longer.parent / "missing.yaml")})
    assert missing.status_code == 400 and "not found" in missing.json()["detail"]


def test_the_api_key_is_asked_once_and_kept_in_a_cookie(runs):
    runs_dir, _, _ = runs
    client = TestClient(create_app(runs_dir, api_key="s3cret"))
    assert client.get("/").status_code == 401 and client.get("/login?key=nope").status_code == 401
    assert client.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/login?key=s3cret").status_code == 200  # redirected home with the cookie set
    assert client.get("/api/runs").status_code == 200


def shot(page, name: str) -> None:
    folder = os.environ.get("TUNESMITH_UI_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.mark.slow  # Chromium, and a run trained in a child process
def test_in_chromium_open_runs_start_a_run_see_its_loss_grow_and_compare(runs):
    sync_api = pytest.importorskip("playwright.sync_api")
    from tunesmith.serve.server import background_server

    runs_dir, (first, second), longer = runs
    app = create_app(runs_dir)
    with background_server(app) as url, sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            assert page.locator("#runs tr[data-run]").count() >= 2
            shot(page, "runs")
            page.click(f"text={first.name}")
            page.wait_for_selector("#scores")
            page.wait_for_function(f"{POINTS} >= 4")
            assert page.inner_text("#run-status") == "done"
            shot(page, "run")

            page.goto(url)
            page.fill("#config", str(longer))
            page.click("text=train")
            page.wait_for_function("document.getElementById('job-run').textContent.length > 0", timeout=120_000)
            page.click("#job-run")
            page.wait_for_function(f"{POINTS} >= 3", timeout=120_000)
            seen = int(page.get_attribute("#loss-chart", "data-points"))
            page.wait_for_function(f"{POINTS} > {seen}", timeout=120_000)
            assert "step" in page.inner_text("#live-info")
            shot(page, "live")
            page.wait_for_function("document.getElementById('run-status').textContent === 'done'", timeout=300_000)

            page.goto(url)
            page.check(f"input.pick[value='{first.name}']")
            page.check(f"input.pick[value='{second.name}']")
            page.click("text=compare the chosen runs")
            page.wait_for_selector("#compare")
            assert page.locator("#compare tr.differs", has_text="learning_rate").count() >= 1
            shot(page, "compare")
        finally:
            browser.close()
    for job in app.state.jobs.jobs.values():
        deadline = time.monotonic() + 60
        while job.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert job.process.returncode == 0, job.state()["log"][-2000:]
