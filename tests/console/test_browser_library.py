"""The photo library's pages in a real browser: a folder indexed by ``facesearch library index``, then
the people grid, a person's page, naming them and taking out a face, as a person with the library role.
Screenshots are kept for people to look at when ``FACESEARCH_KEEP_SCREENS`` names a folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from owned_keys import add_people, as_person
from support.browser import browser, keep_screenshots, sign_in
from support.cli import cli_env
from support.rtsp import free_port
from support.serve import start_server


def test_people_pages_in_a_real_browser(tmp_path: Path, lfw: Path) -> None:
    home, folder, screens = tmp_path / "home", tmp_path / "Pictures", tmp_path / "screens"
    screens.mkdir()
    for person in ("Colin_Powell", "Tony_Blair", "Serena_Williams"):
        (folder / person).mkdir(parents=True)
        for image in sorted((lfw / person).glob("*.jpg"))[:4]:
            shutil.copy(image, folder / person / image.name)
    env = {k: v for k, v in cli_env(home).items() if k not in ("FACESEARCH_USER", "FACESEARCH_PASSWORD",
                                                              "FACESEARCH_API_KEY")}
    cli = [sys.executable, "-m", "facesearch.cli"]
    for args in (["init"], ["assets", "install"]):
        subprocess.run([*cli, *args], env=env, check=True, capture_output=True)
    add_people(home, {"mia": "library"})  # the administrator first (adam), then mia, added by him
    subprocess.run([*cli, "library", "index", str(folder)], env={**env, **as_person("mia")}, check=True,
                   capture_output=True)  # the CLI acts as an account: mia's library
    port = free_port()
    server = start_server(env, port)
    driver = browser(tmp_path)
    wait = WebDriverWait(driver, 30)
    try:
        base = f"http://127.0.0.1:{port}"
        sign_in(driver, base, "mia")
        wait.until(ready.url_contains("/console/library"))
        cards = driver.find_elements(By.CSS_SELECTOR, "a.person")
        assert len(cards) >= 3
        assert all(driver.execute_script("return arguments[0].naturalWidth", img) > 0
                   for img in driver.find_elements(By.CSS_SELECTOR, "a.person img"))  # sealed crops, served
        driver.save_screenshot(str(screens / "library.png"))
        cards[0].click()
        wait.until(ready.presence_of_element_located((By.NAME, "name")))
        field = driver.find_element(By.NAME, "name")
        field.clear()
        field.send_keys("Aunt Maria")
        driver.find_element(By.XPATH, "//button[text()='Save name']").click()
        wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Aunt Maria"))
        before = len(driver.find_elements(By.CSS_SELECTOR, "div.person"))
        driver.find_element(By.XPATH, "(//button[starts-with(text(), 'Not Aunt Maria')])[1]").click()
        wait.until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, "p.ok"), "removed"))
        assert len(driver.find_elements(By.CSS_SELECTOR, "div.person")) == before - 1
        driver.save_screenshot(str(screens / "library-person.png"))
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=30)
    keep_screenshots(screens, "library")  # FACESEARCH_KEEP_SCREENS=<folder> keeps them for people to look at
