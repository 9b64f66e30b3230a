"""The case page's watchlist panel in a real browser (Debian's Chromium through selenium) against
``facesearch serve`` on loopback: an officer's case with two people enrolled through the CLI shows each
person's enrolment photos as thumbnails; removing one photo, then one person, with the page's buttons updates
the panel. Screenshots at 1280 and 390 pixels wide go to the test's folder (``tmp_path / "screens"``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from owned_keys import add_people, run_as
from support.browser import browser, keep_screenshots, sign_in
from support.cli import cli_env
from support.serve import serving


@pytest.fixture()
def server(tmp_path: Path, people: Path) -> Iterator[str]:
    """An installation where olga (an officer) made C1 and enrolled Obama (two photos) and Biden (two photos)."""
    home = tmp_path / "home"
    env = cli_env(home)
    run = [sys.executable, "-m", "facesearch.cli"]
    subprocess.run([*run, "init"], env=env, check=True, capture_output=True)
    subprocess.run([*run, "assets", "install"], env=env, check=True, capture_output=True)
    add_people(home, {"olga": "officer"})
    until = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%d")
    made = run_as(home, "case", "create", "--title", "Two people", "--purpose", "missing-person",
                  "--legal-basis", "Act s.1", "--authorisation-ref", "A-1", "--authorised-by", "Judge R.",
                  "--valid-until", until)
    assert made.returncode == 0, made.stderr
    train = people / "knn_examples" / "train"
    for name, folder in (("Barack Obama", "obama"), ("Joe Biden", "biden")):
        photos = sorted(str(p) for p in (train / folder).iterdir())
        enrolled = run_as(home, "enroll", *photos, "--name", name, "--case", "C1")
        assert enrolled.returncode == 0, enrolled.stderr
    with serving(env) as base:
        yield base


def _panel(driver: WebDriver) -> dict[str, int]:
    """Who the watchlist panel shows, with how many thumbnails each has loaded (a broken image counts none)."""
    shown = {}
    for person in driver.find_elements(By.CSS_SELECTOR, "#watchlist .wl-person"):
        images = person.find_elements(By.CSS_SELECTOR, ".wl-photos img")
        loaded = [i for i in images if driver.execute_script("return arguments[0].complete && "
                                                             "arguments[0].naturalWidth > 0", i)]
        shown[person.find_element(By.TAG_NAME, "strong").text] = len(loaded)
    return shown


def _person(driver: WebDriver, name: str) -> WebElement:
    return driver.find_element(By.XPATH, f"//section[contains(@class,'wl-person')][.//strong[text()='{name}']]")


def _snap(driver: WebDriver, path: Path) -> None:
    driver.execute_script("document.getElementById('watchlist').scrollIntoView()")
    driver.save_screenshot(str(path))


def _shows(driver: WebDriver, expected: dict[str, int]) -> None:
    # A click reloads the page: an element of the old one goes stale while the wait looks at it.
    WebDriverWait(driver, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: _panel(d) == expected, f"expected {expected}")


def test_the_watchlist_panel_shows_thumbnails_and_removes_a_photo_then_a_person(server: str, tmp_path: Path) -> None:
    base = server
    screens = tmp_path / "screens"
    screens.mkdir()
    driver = browser(tmp_path / "downloads")
    try:
        sign_in(driver, base, "olga")
        driver.get(f"{base}/console/cases/C1")
        _shows(driver, {"Barack Obama": 2, "Joe Biden": 2})
        _snap(driver, screens / "case-1280.png")
        driver.set_window_size(390, 844)
        driver.get(f"{base}/console/cases/C1")
        _shows(driver, {"Barack Obama": 2, "Joe Biden": 2})
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the page is {overflow} px wider than a phone's screen"
        _snap(driver, screens / "case-390.png")
        driver.set_window_size(1280, 900)

        remove = "button[aria-label='Remove photo 1 of Barack Obama']"
        _person(driver, "Barack Obama").find_element(By.CSS_SELECTOR, remove).click()
        WebDriverWait(driver, 30).until(lambda d: "/console/cases/C1" in d.current_url)
        _shows(driver, {"Barack Obama": 1, "Joe Biden": 2})
        _snap(driver, screens / "case-photo-removed.png")

        _person(driver, "Joe Biden").find_element(By.XPATH, ".//button[text()='Remove from watchlist']").click()
        _shows(driver, {"Barack Obama": 1})
        _snap(driver, screens / "case-person-removed.png")
    finally:
        driver.quit()
        keep_screenshots(screens, "case-page")
