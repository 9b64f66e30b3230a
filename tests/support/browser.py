"""A real browser for the console tests: Debian's Chromium, driven by its chromedriver through selenium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

PASSWORD = "correct horse battery"


def browser(downloads: Path, *flags: str) -> webdriver.Chrome:
    """Chromium with its profile beside ``downloads`` (in the test's own temporary folder, removed with it), not
    in the system's temporary folder. Chromium's process-lock socket stays in the system's temporary folder: a
    socket path must be short (108 bytes), and Chromium removes it when it quits. ``flags``: more switches (a
    fake camera, say)."""
    options = webdriver.ChromeOptions()
    options.add_argument(f"--user-data-dir={downloads.parent / f'{downloads.name}-chromium-profile'}")
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,900", *flags):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def keep_screenshots(screens: Path, name: str) -> None:
    """Copy the run's screenshots to ``$FACESEARCH_KEEP_SCREENS/<name>`` for people to look at, when that is set;
    otherwise they go with the test's temporary folder."""
    keep = os.environ.get("FACESEARCH_KEEP_SCREENS")
    if keep:
        target = Path(keep) / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(screens, target)


def sign_in(driver: webdriver.Chrome, base: str, user: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{base}/console/login")
    driver.find_element(By.NAME, "username").send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button.primary").click()
    WebDriverWait(driver, 20).until(ready.presence_of_element_located((By.CSS_SELECTOR, ".who")))
