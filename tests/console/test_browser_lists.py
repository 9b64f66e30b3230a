"""The cases list in a real browser (Debian's Chromium through selenium) against ``facesearch serve`` on
loopback: search it, page to the older cases, and read it at desktop (1280 px) and phone (390 px) widths.
Screenshots go to the test's folder (``tmp_path / "screens"``)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from owned_keys import PASSWORD, add_people
from support.browser import browser, keep_screenshots, sign_in
from support.cli import cli_env
from support.serve import serving


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    home = tmp_path / "home"
    env = cli_env(home)
    subprocess.run([sys.executable, "-m", "facesearch.cli", "init"], env=env, check=True, capture_output=True)
    add_people(home, {"olga": "officer"})
    with serving(env) as base:
        yield base


def make_cases(base: str, count: int) -> None:
    """``count`` cases made by olga through the console's own form (C3, C6, ... on the harbour)."""
    until = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%d")
    with httpx.Client(base_url=base, follow_redirects=True, timeout=30) as client:
        page = client.post("/console/login", data={"username": "olga", "password": PASSWORD})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        for i in range(1, count + 1):
            made = client.post("/console/cases", data={
                "csrf_token": token, "title": f"{'Harbour' if i % 3 == 0 else 'Railway'} theft number{i}",
                "purpose": "victim", "valid_until": until}, follow_redirects=False)
            assert made.status_code == 303 and made.headers["location"] == f"/console/cases/C{i}", made.text[:300]


def shown_refs(driver: object) -> list[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#cases td:first-child a")  # type: ignore[attr-defined]
    return [r.text for r in rows]


def test_search_and_page_the_cases_list_in_a_real_browser(server: str, tmp_path: Path) -> None:
    make_cases(server, 30)
    screens = tmp_path / "screens"
    screens.mkdir()
    driver = browser(tmp_path / "downloads")
    wait = WebDriverWait(driver, 30)
    try:
        sign_in(driver, server, "olga")
        driver.get(f"{server}/console")
        assert "Page 1 of 2 · 30 cases" in driver.find_element(By.CSS_SELECTOR, "nav.paging").text
        driver.find_element(By.NAME, "q").send_keys("THEFT")
        Select(driver.find_element(By.NAME, "status")).select_by_visible_text("draft")
        driver.find_element(By.CSS_SELECTOR, "form.search button.primary").click()
        wait.until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "nav.paging"), "30 cases found"))
        assert shown_refs(driver)[:2] == ["C30", "C29"] and len(shown_refs(driver)) == 25
        driver.save_screenshot(str(screens / "cases-1280.png"))

        driver.find_element(By.LINK_TEXT, "Older →").click()
        wait.until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "nav.paging"), "Page 2 of 2"))
        assert shown_refs(driver) == ["C5", "C4", "C3", "C2", "C1"]
        assert driver.find_element(By.NAME, "q").get_attribute("value") == "THEFT"  # the search is kept
        assert "q=THEFT" in driver.current_url and "status=draft" in driver.current_url

        driver.find_element(By.NAME, "q").clear()
        driver.find_element(By.NAME, "q").send_keys("harbour")
        driver.find_element(By.CSS_SELECTOR, "form.search button.primary").click()
        wait.until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "nav.paging"), "10 cases found"))
        assert shown_refs(driver)[0] == "C30" and len(shown_refs(driver)) == 10

        # A phone: the form folds to one column and only the table scrolls sideways, never the page.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        driver.get(f"{server}/console?q=theft&page=2")
        wait.until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "nav.paging"), "Page 2 of 2"))
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 390
        box = driver.find_element(By.NAME, "q").rect
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert shown_refs(driver) == ["C5", "C4", "C3", "C2", "C1"]
        driver.save_screenshot(str(screens / "cases-390.png"))
        driver.get(f"{server}/console?page=0")
        assert "not a page number" in driver.find_element(By.ID, "list-error").text
        driver.save_screenshot(str(screens / "cases-390-error.png"))
    finally:
        driver.quit()
        keep_screenshots(screens, "lists")
    assert all((screens / f"{name}.png").stat().st_size > 0 for name in ("cases-1280", "cases-390"))
