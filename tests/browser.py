"""A real headless Chromium (Debian's chromium and chromium-driver packages) driven by
Selenium, for the HTML report's tests. tests/install_chromium.sh installs them where
missing; the README's test command runs it first."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

INSTALL_HINT = (
    "the report tests need Chromium and its driver (Debian: apt-get install chromium "
    "chromium-driver); run `sh tests/install_chromium.sh`"
)


def find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def start_chromium(width: int = 1280, height: int = 1800) -> webdriver.Chrome:
    """A headless Chromium that records its console. Raises RuntimeError with the install
    hint when the browser or its driver is missing."""
    browser = find("chromium", "chromium-browser", "google-chrome")
    driver = find("chromedriver")
    if browser is None or driver is None:
        raise RuntimeError(INSTALL_HINT)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def screenshot(html_file: Path, png_file: Path, width: int = 1280) -> None:
    """Save a PNG of the whole page (the window is resized to the page's height)."""
    chromium = start_chromium(width=width)
    try:
        chromium.get(html_file.resolve().as_uri())
        height = chromium.execute_script("return document.documentElement.scrollHeight")
        chromium.set_window_size(width, int(height) + 160)
        chromium.save_screenshot(str(png_file))
    finally:
        chromium.quit()
