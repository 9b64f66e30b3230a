"""The console in a real browser (Debian's chromium, driven by chromedriver through selenium), against
``facesearch serve`` on loopback: sign in, create and authorise a case, enrol the two people, scan the
Hamilton clip, confirm a sighting with two reviewers, export it, and see the audit chain verified.
Screenshots of the main pages go to the test's folder (``tmp_path / "screens"``)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from owned_keys import add_people
from support.browser import browser, keep_screenshots, sign_in
from support.cli import cli_env
from support.rtsp import free_port
from support.serve import start_server


@contextmanager
def phone_width(driver: webdriver.Chrome) -> Iterator[None]:
    """The page as a phone shows it (390 CSS pixels wide), then back to the desktop's 1280."""
    driver.set_window_size(390, 844)
    try:
        yield
    finally:
        driver.set_window_size(1280, 900)


def assert_no_sideways_scroll(driver: webdriver.Chrome) -> None:
    """Nothing sticks out of the page sideways: wide tables scroll inside themselves, the page does not."""
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{driver.current_url} is {overflow} px wider than the window"


def assert_labels_above_their_fields(driver: webdriver.Chrome) -> None:
    """Every label of a form's field grid sits above its own field, left-aligned with it, and no two overlap:
    the layout people read a form by (labels beside the wrong fields was the bug)."""
    boxes = driver.execute_script("""
        return [...document.querySelectorAll('.fields label')].map(label => {
            const field = label.querySelector('input, select, textarea');
            const l = label.getBoundingClientRect(), f = field.getBoundingClientRect();
            return {name: field.name, label: [l.left, l.top, l.right, l.bottom],
                    field: [f.left, f.top, f.right, f.bottom]};
        });""")
    assert boxes
    for box in boxes:
        (l_left, l_top, l_right, l_bottom), (f_left, f_top, f_right, f_bottom) = box["label"], box["field"]
        assert abs(l_left - f_left) < 2 and f_top > l_top + 8 and f_right <= l_right + 1, box
        assert f_bottom <= l_bottom + 1, box  # the field is inside its own label's box
    for a, b in itertools.combinations(boxes, 2):
        (al, at, ar, ab), (bl, bt, br, bb) = a["label"], b["label"]
        assert ar <= bl or br <= al or ab <= bt or bb <= at, (a["name"], b["name"])


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
        assert_labels_above_their_fields(driver)
        driver.save_screenshot(str(screens / "case-new.png"))
        with phone_width(driver):
            assert_labels_above_their_fields(driver)
            assert_no_sideways_scroll(driver)
            driver.save_screenshot(str(screens / "case-new-390.png"))
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
        timeline = driver.find_element(By.CSS_SELECTOR, "svg[aria-label^=timeline]")
        assert "Lin-Manuel Miranda" in timeline.get_attribute("innerHTML")  # each bar's row names its person
        driver.execute_script("arguments[0].scrollIntoView()", timeline)
        wait.until(lambda d: d.execute_script(  # the lazy thumbnails and faces, loaded before the picture
            "return [...document.images].every(i => i.complete && i.naturalWidth > 0)"))
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
            progress = driver.find_element(By.CSS_SELECTOR, ".progress").text
            if reviewer == "rob":  # rita's confirmation shows, and how many are still needed
                assert "Confirmed by rita · 1 of 2 confirmations, 1 still needed" in progress
            driver.save_screenshot(str(screens / f"review-{reviewer}.png"))
            driver.find_element(By.XPATH, "(//button[@value='confirm'])[1]").click()
            wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "main"), "Sighting"))
        assert "now confirmed" in driver.page_source
        with phone_width(driver):
            driver.get(f"{base}/console/review?case=C1")  # the other sighting still waits, its photos fit
            assert "case C1" in driver.find_element(By.CSS_SELECTOR, ".card").text
            assert_no_sideways_scroll(driver)
            driver.save_screenshot(str(screens / "review-390.png"))
        driver.get(f"{base}/console/audit")  # a reviewer may not read the log: a page that says so, not JSON
        assert driver.find_element(By.TAG_NAME, "h1").text == "Not allowed"
        assert driver.find_element(By.ID, "reason").text == "role 'reviewer' may not audit.read"
        driver.save_screenshot(str(screens / "forbidden.png"))

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
        with phone_width(driver):
            for page in ("audit", "cases/C1"):
                driver.get(f"{base}/console/{page}")
                assert_no_sideways_scroll(driver)
            driver.save_screenshot(str(screens / "case-390.png"))

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
    assert shots == ["accounts.png", "audit.png", "case-390.png", "case-new-390.png", "case-new.png", "case.png",
                     "enrol.png", "forbidden.png", "review-390.png", "review-rita.png", "review-rob.png", "scans.png"]
    keep_screenshots(screens, "console")  # FACESEARCH_KEEP_SCREENS=<folder> keeps them for people to look at
