"""The audit page in a real browser (Debian's chromium through selenium), against ``facesearch serve`` on loopback:
more entries than one page holds, an auditor filters them by action, pages on, and opens one entry's details;
the page is also drawn 390 px wide (a phone) and must not be wider than the screen. No face model is loaded.
Screenshots go to ``tmp_path / "screens"`` (kept when ``FACESEARCH_KEEP_SCREENS`` names a folder)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from facesearch.cases.service import create_case
from facesearch.context import Context
from facesearch.settings import Settings
from owned_keys import add_people
from support.browser import browser, keep_screenshots, sign_in
from support.cli import cli_env
from support.rtsp import free_port
from support.serve import start_server

CASES = 60  # one case.create entry each (and the rest of the log besides): more than one page of 50


def make_cases(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cases made through the service, in this process, on the installation's own database and keys (fast: no
    command per case)."""
    for name in ("FACESEARCH_KEY", "FACESEARCH_AUDIT_KEY", "FACESEARCH_AUDIT_CHECKPOINTS", "FACESEARCH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    ctx = Context.open(Settings(home=home))
    until = datetime.now(UTC) + timedelta(days=3)
    for i in range(CASES):
        create_case(ctx.sessions, title=f"Case {i}", purpose="victim", valid_until=until, actor="user:olga")


def action_cells(driver: object) -> list[str]:
    return [td.text for td in driver.find_elements(By.CSS_SELECTOR, "table.audit-log tbody tr td:nth-child(4)")]  # type: ignore[attr-defined]


def test_the_audit_page_filters_pages_and_opens_details(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, screens = tmp_path / "home", tmp_path / "screens"
    screens.mkdir()
    env = {k: v for k, v in cli_env(home).items() if k not in ("FACESEARCH_USER", "FACESEARCH_PASSWORD",
                                                              "FACESEARCH_API_KEY")}
    subprocess.run([sys.executable, "-m", "facesearch.cli", "init"], env=env, check=True, capture_output=True)
    add_people(home, {"olga": "officer", "ava": "auditor"})
    make_cases(home, monkeypatch)
    port = free_port()
    server = start_server(env, port)
    driver = browser(tmp_path / "downloads")
    wait = WebDriverWait(driver, 20)
    base = f"http://127.0.0.1:{port}"
    try:
        sign_in(driver, base, "ava")
        driver.get(f"{base}/console/audit")
        assert "Chain verified" in driver.find_element(By.CSS_SELECTOR, ".chain").text
        assert len(action_cells(driver)) == 50 and "page 1 of 2" in driver.find_element(By.TAG_NAME, "main").text
        driver.save_screenshot(str(screens / "audit-1280.png"))

        Select(driver.find_element(By.NAME, "action")).select_by_visible_text("case.create")
        driver.find_element(By.CSS_SELECTOR, "#audit-filter button.primary").click()
        wait.until(ready.url_contains("action=case.create"))
        main = driver.find_element(By.TAG_NAME, "main").text
        assert f"{CASES} entries match" in main and "page 1 of 2" in main
        assert action_cells(driver) == ["case.create"] * 50
        time_cell = driver.find_element(By.CSS_SELECTOR, "table.audit-log td.at")
        assert time_cell.value_of_css_property("white-space") == "nowrap" and "\n" not in time_cell.text

        driver.find_element(By.CSS_SELECTOR, "a[rel=next]").click()
        wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "main"), "page 2 of 2"))
        assert action_cells(driver) == ["case.create"] * (CASES - 50)
        assert "action=case.create" in driver.current_url and "page=2" in driver.current_url

        pre = driver.find_element(By.CSS_SELECTOR, "table.audit-log details pre")
        assert not pre.is_displayed()
        driver.find_element(By.CSS_SELECTOR, "table.audit-log details summary").click()
        wait.until(ready.visibility_of(pre))
        details = json.loads(pre.text)
        assert isinstance(details, dict) and details, pre.text
        driver.save_screenshot(str(screens / "audit-details-1280.png"))

        driver.set_window_size(390, 844)
        wait.until(lambda d: d.execute_script("return window.innerWidth") <= 400)
        widths = driver.execute_script("return [window.innerWidth, document.documentElement.scrollWidth,"
                                       " document.getElementById('audit-filter').scrollWidth,"
                                       " document.querySelector('table.audit-log').getBoundingClientRect().right]")
        inner, page_width, form_width, table_right = widths
        assert page_width <= inner and form_width <= inner and table_right <= inner, widths  # the table scrolls inside
        driver.save_screenshot(str(screens / "audit-390.png"))
        driver.execute_script("document.querySelector('table.audit-log').scrollIntoView()")
        driver.save_screenshot(str(screens / "audit-390-table.png"))
        driver.find_element(By.NAME, "case").send_keys("not a case")
        driver.find_element(By.CSS_SELECTOR, "#audit-filter button.primary").click()
        error = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".audit-error")))
        assert "not a case id" in error.text
        assert driver.execute_script("return document.documentElement.scrollWidth") <= inner
        driver.save_screenshot(str(screens / "audit-error-390.png"))
    finally:
        keep_screenshots(screens, "audit")
        driver.quit()
        server.terminate()
        server.wait(timeout=30)
