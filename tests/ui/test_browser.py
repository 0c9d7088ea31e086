"""The UI in a real browser: headless Chromium (Debian's chromium + chromium-driver, `make browser`) drives
Airflow started the way `make demo` starts it. Log in, trigger openimages_v4 from its form with one param
changed, wait for the run, open the report the run's note links to, check its images load and its numbers
equal summary.json. Screenshots go to test-artifacts/browser/ (or $VISIONFLOW_TEST_ARTIFACTS)."""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from include.demo import airflow_procs as ap
from include.demo import cli

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("VISIONFLOW_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    lay = cli.Layout(tmp_path_factory.mktemp("demo"), port=ap.free_port())
    procs = ap.Procs(log_dir=lay.logs, pid_file=lay.pids, cwd=lay.root)
    try:
        api, _, _, dags = cli.start_services(lay, procs)
        assert "openimages_v4" in dags, f"openimages_v4 not parsed; see {lay.logs}"
        yield lay, api
    finally:
        procs.stop()


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM and DRIVER, "chromium/chromedriver missing: run `make browser` (apt-get install chromium chromium-driver)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.implicitly_wait(10)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def shot(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def wait_for(check, timeout: float, what: str):
    """Poll ``check``; a slow answer from a busy api-server counts as "not yet", not as a failure."""
    import requests

    def tolerant():
        try:
            return check()
        except requests.RequestException:
            return None

    return ap.poll(tolerant, timeout, what, interval=2)


def test_trigger_from_the_form_and_read_the_report(stack, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    lay, api = stack
    base = f"http://{ap.HOST}:{lay.port}"
    browser.get(base + "/")
    browser.find_element(By.NAME, "username").send_keys(cli.USER)
    browser.find_element(By.NAME, "password").send_keys(cli.PASSWORD, Keys.ENTER)
    wait_for(lambda: "/auth/login" not in browser.current_url, 30, "the login to finish")
    shot(browser, "01-home")

    browser.get(base + "/dags/openimages_v4")
    browser.find_element(By.CSS_SELECTOR, "[data-testid=trigger-dag-button]").click()
    before = {r["dag_run_id"] for r in api.get("dags/openimages_v4/dagRuns")["dag_runs"]}
    size = browser.find_element(By.NAME, "element_thumbnail_size")

    def fill_and_trigger(value: str) -> None:
        size.send_keys(Keys.CONTROL, "a")
        size.send_keys(value, Keys.TAB)
        submit = browser.find_element(By.CSS_SELECTOR, "[data-testid=trigger-dag-submit]")
        browser.execute_script("arguments[0].click()", submit)  # an error toast may cover the button

    # A bad value stays as typed (no clamping) and the server refuses it, naming the param and the rule.
    fill_and_trigger("-5")
    wait_for(lambda: "Invalid input for param thumbnail_size" in browser.find_element(By.TAG_NAME, "body").text,
             30, "the refusal of thumbnail_size=-5")
    assert size.get_attribute("value") == "-5"
    shot(browser, "02-trigger-form-refused")
    fill_and_trigger("200")

    def new_run():
        runs = [r for r in api.get("dags/openimages_v4/dagRuns")["dag_runs"] if r["dag_run_id"] not in before]
        return runs[0] if runs else None

    run = wait_for(new_run, 60, "the triggered run")
    assert run["conf"]["thumbnail_size"] == 200
    run_id = run["dag_run_id"]
    done = wait_for(lambda: (r := api.dag_run("openimages_v4", run_id))["state"] in ap.TERMINAL_RUN_STATES and r,
                    600, "the run to finish")
    browser.get(f"{base}/dags/openimages_v4/runs/{run_id}")
    time.sleep(3)  # let the grid render for the screenshot
    shot(browser, "03-run")
    assert done["state"] == "success"

    url = re.search(r"\((http[^)]+/visionflow/reports/runs/openimages_v4/[^)]+)\)", done["note"] or "")
    assert url, f"no report link in the run's note: {done['note']!r}"
    browser.get(url.group(1))
    wait_for(lambda: browser.execute_script("return document.readyState") == "complete", 30, "the report")
    shot(browser, "04-report")
    # Served sandboxed: the page has an opaque origin, so nothing in it can use the viewer's login.
    assert browser.execute_script("return window.origin") == "null"
    widths = browser.execute_script("return [...document.images].map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) >= 4 and all(w > 0 for w in widths), widths
    out = lay.data / "openimages"
    for split in ("train", "extended_targets"):
        counts = json.loads((out / split / "summary.json").read_text())["counts"]
        for status, expected in counts.items():
            cells = browser.find_elements(By.CSS_SELECTOR, f'td[data-group="{split}"][data-status="{status}"]')
            shown = int(cells[0].text) if cells else 0
            assert shown == expected, (split, status, shown, expected)
