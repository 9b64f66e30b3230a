"""Face sign-in in a real browser (Debian's chromium through chromedriver) against ``facesearch serve`` on loopback,
the camera a fake one that plays a clip made from the shared data (``--use-file-for-fake-video-capture``): a kiosk
account opens the sign-in page, types the name, the page asks the server for a challenge, films while it prompts,
sends the clip, and shows the verdict with each liveness layer. The clip is a still photo of the enrolled person
moved in front of the camera: his face, refused as not alive. The attempt is in the audit log with the challenge the
server chose, and the role pages answer as the role matrix says."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from owned_keys import add_people, run_as
from support.browser import browser, keep_screenshots, sign_in
from support.cli import cli_env
from support.clips import moved_photo_frames, write_y4m
from support.serve import serving


@pytest.fixture()
def server(tmp_path: Path, people: Path) -> Iterator[tuple[str, Path]]:
    home = tmp_path / "home"
    env = cli_env(home)
    subprocess.run([sys.executable, "-m", "facesearch.cli", "init"], env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "facesearch.cli", "assets", "install"], env=env, check=True,
                   capture_output=True)
    add_people(home, {"kiosk": "signin", "olga": "officer"})
    enrolled = run_as(home, "signin", "enroll", "Barack Obama", str(people / "obama.jpg"), person="adam")
    assert enrolled.returncode == 0, enrolled.stderr
    with serving(env) as base:
        yield base, home


def test_a_kiosk_signs_in_through_the_browser_camera(server: tuple[str, Path], tmp_path: Path, people: Path) -> None:
    base, home = server
    screens, downloads = tmp_path / "screens", tmp_path / "downloads"
    screens.mkdir()
    downloads.mkdir()
    camera = write_y4m(moved_photo_frames(people / "obama2.jpg", seconds=3.0), tmp_path / "camera.y4m")
    driver = browser(downloads, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                     f"--use-file-for-fake-video-capture={camera}")
    wait = WebDriverWait(driver, 90)
    try:
        # An officer has no sign-in page; the kiosk lands on it.
        sign_in(driver, base, "olga")
        driver.get(f"{base}/console/signin")
        assert "Not allowed" in driver.title
        sign_in(driver, base, "kiosk")
        assert driver.current_url.endswith("/console/signin")
        menu = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "header a")]
        assert "Face sign-in" in menu and "Cases" not in menu
        driver.find_element(By.NAME, "name").send_keys("Barack Obama")
        driver.find_element(By.ID, "start").click()
        wait.until(ready.text_to_be_present_in_element((By.ID, "prompt"), "turn your head"))
        prompt = driver.find_element(By.ID, "prompt").text
        driver.save_screenshot(str(screens / "signin-prompt.png"))
        wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, "#result .verdict")))
        driver.save_screenshot(str(screens / "signin-result.png"))
        verdict = driver.find_element(By.CSS_SELECTOR, "#result .verdict").text
        layers = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#result .layers li")]
        assert verdict == "Not signed in", driver.find_element(By.ID, "result").text
        assert any(text.startswith("active: failed") for text in layers), layers
        assert [text.split(":")[0] for text in layers] == ["capture", "active", "passive"]
        assert not driver.find_element(By.ID, "start").get_attribute("disabled")  # ready for another go
        keep_screenshots(screens, "signin")
    finally:
        driver.quit()
    shown = run_as(home, "audit", "show", "--json", person="adam")
    assert shown.returncode == 0, shown.stderr
    attempts = [e for e in json.loads(shown.stdout) if e["action"] == "signin.attempt"]
    assert len(attempts) == 1 and attempts[0]["actor"] == "user:kiosk"
    details = attempts[0]["details"]
    assert details["capture"] == "clip" and details["frames"] >= 12 and details["challenge_issued"] is True
    assert details["challenge"] in prompt.lower() and details["accepted"] is False  # the direction it prompted
    assert details["score"] >= details["threshold"]  # his face: refused for being a photo, not for the match
