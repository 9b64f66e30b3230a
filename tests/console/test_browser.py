"""The console in a real browser (Debian's chromium, driven by chromedriver through selenium), against
``facesearch serve`` on loopback: sign in, create and authorise a case, enrol the two people, scan the
Hamilton clip, confirm a sighting with two reviewers, export it, and see the audit chain verified.
Screenshots of the main pages go to the test's folder (``tmp_path / "screens"``)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from owned_keys import add_people
from support.browser import browser, keep_screenshots, sign_in
from support.cli import cli_env
from support.rtsp import free_port
from support.serve import start_server


@pytest.fixture()
def server(tmp_path: Path, video: Path) -> Iterator[tuple[str, Path]]:
    home = tmp_path / "home"
    env = {**cli_env(home), "FACESEARCH_MEDIA_ROOT": str(video)}
    run = [sys.executable, "-m", "facesearch.cli"]
    subprocess.run([*run, "init"], env=env, check=True, capture_output=True)
    subprocess.run([*run, "assets", "install"], env=env, check=True, capture_output=True)
    # The administrator first (adam, made without signing in while there is none), then the team, added by him.
    add_people(home, {"olga": "officer", "rita": "reviewer", "rob": "reviewer", "ava": "auditor"})
    port = free_port()
    process = start_server(env, port)
    try:
        yield f"http://127.0.0.1:{port}", home
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_whole_review_flow_in_a_real_browser(server: tuple[str, Path], tmp_path: Path, video: Path,
                                                 people: Path) -> None:
    base, _ = server
    screens, downloads = tmp_path / "screens", tmp_path / "downloads"
    screens.mkdir()
    downloads.mkdir()
    driver = browser(downloads)
    wait = WebDriverWait(driver, 60)
    try:
        sign_in(driver, base, "olga")
        driver.get(f"{base}/console/cases/new")
        now = datetime.now(UTC)
        for name, value in (("title", "Hamilton"), ("legal_basis", "Act s.1"), ("authorisation_ref", "A-7"),
                            ("authorised_by", "Judge R.")):
            driver.find_element(By.NAME, name).send_keys(value)
        Select(driver.find_element(By.NAME, "purpose")).select_by_visible_text("victim")
        window = ((now - timedelta(days=1)).strftime("%Y-%m-%d"), (now + timedelta(days=5)).strftime("%Y-%m-%d"))
        driver.execute_script("document.querySelector('[name=valid_from]').value = arguments[0];"
                              "document.querySelector('[name=valid_until]').value = arguments[1];", *window)
        driver.save_screenshot(str(screens / "case-new.png"))
        driver.find_element(By.CSS_SELECTOR, "button.primary").click()
        wait.until(ready.url_contains("/console/cases/C1"))
        assert "authorised" in driver.find_element(By.TAG_NAME, "h1").text

        for name, photo in (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png")):
            driver.get(f"{base}/console/enrol")
            driver.find_element(By.NAME, "name").send_keys(name)
            driver.find_element(By.NAME, "case").send_keys("C1")
            driver.find_element(By.NAME, "photos").send_keys(str(people / photo))
            driver.find_element(By.CSS_SELECTOR, "button.primary").click()
            wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "main"), f"Enrolled {name}"))
        driver.save_screenshot(str(screens / "enrol.png"))

        driver.get(f"{base}/console/cases/C1")
        driver.find_element(By.XPATH, "//button[text()='Activate']").click()
        wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "h1"), "active"))

        driver.get(f"{base}/console/scans")
        driver.find_element(By.NAME, "case").send_keys("C1")
        driver.find_element(By.NAME, "paths").send_keys(str(video / "short_hamilton_clip.mp4"))
        driver.find_element(By.CSS_SELECTOR, "button.primary").click()
        # htmx refreshes the job table every second: wait for "done" without reloading the page
        WebDriverWait(driver, 180).until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "main"), "2 sightings"))
        driver.save_screenshot(str(screens / "scans.png"))
        driver.get(f"{base}/console/cases/C1")
        assert driver.page_source.count("candidate</span>") == 2
        driver.save_screenshot(str(screens / "case.png"))

        sign_in(driver, base, "adam")  # need to know: the administrator assigns the reviewers on the case page
        for reviewer in ("rita", "rob"):
            driver.get(f"{base}/console/cases/C1")
            driver.find_element(By.XPATH, "//form[@action='/console/cases/C1/assign']//input[@name='username']"
                                ).send_keys(reviewer)
            driver.find_element(By.XPATH, "//button[text()='Assign']").click()
            wait.until(ready.presence_of_element_located(
                (By.XPATH, f"//form[@action='/console/cases/C1/unassign/{reviewer}']")))

        for reviewer in ("rita", "rob"):
            sign_in(driver, base, reviewer)
            driver.get(f"{base}/console/review")
            images = driver.find_elements(By.CSS_SELECTOR, ".pair img")
            assert len(images) == 6 and all(driver.execute_script("return arguments[0].naturalWidth", i) > 0
                                            for i in images)  # evidence and enrolment photo loaded
            driver.save_screenshot(str(screens / f"review-{reviewer}.png"))
            driver.find_element(By.XPATH, "(//button[@value='confirm'])[1]").click()
            wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "main"), "Sighting"))
        assert "now confirmed" in driver.page_source

        sign_in(driver, base, "olga")
        driver.get(f"{base}/console/cases/C1")
        driver.find_element(By.XPATH, "//button[text()='Export confirmed sightings']").click()
        for _ in range(100):
            zips = list(downloads.glob("*.zip"))
            if zips and not list(downloads.glob("*.crdownload")):
                break
            time.sleep(0.1)
        assert [z.name for z in zips] == ["C1-evidence.zip"]

        sign_in(driver, base, "ava")
        driver.get(f"{base}/console/audit")
        assert "Chain verified" in driver.page_source and "export.package" in driver.page_source
        driver.save_screenshot(str(screens / "audit.png"))

        sign_in(driver, base, "adam")
        driver.get(f"{base}/console/accounts")
        key_form = driver.find_element(By.XPATH, "//form[@action='/console/accounts/keys']")
        key_form.find_element(By.NAME, "name").send_keys("nightly-audit")  # his own key, with his own role
        driver.find_element(By.XPATH, "//button[text()='Add API key']").click()
        wait.until(ready.presence_of_element_located((By.ID, "new-key")))
        assert driver.find_element(By.ID, "new-key").text.startswith("fs_")
        driver.save_screenshot(str(screens / "accounts.png"))
    finally:
        driver.quit()
    shots = sorted(p.name for p in screens.glob("*.png"))
    assert shots == ["accounts.png", "audit.png", "case-new.png", "case.png", "enrol.png", "review-rita.png",
                     "review-rob.png", "scans.png"]
    keep_screenshots(screens, "console")  # FACESEARCH_KEEP_SCREENS=<folder> keeps them for people to look at
