"""The web page of `lstmgen serve` in a real headless browser (Debian's chromium + chromedriver via Selenium): load it,
type a prime, start, see text stream in, stop (which ends the stream on the server), and save a screenshot.

The screenshot goes to $LSTMGEN_SCREENSHOT if set (the README's is made with LSTMGEN_SCREENSHOT=docs/serve.png),
else into the test's temporary folder. Skipped, saying why, only when chromium or its driver cannot start.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from lstmgen.generation.engine import Engine  # noqa: E402
from lstmgen.serving.app import app  # noqa: E402
from lstmgen.serving.params import Limits  # noqa: E402


def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1100,900",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(arg)
    try:
        return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))
    except Exception as e:  # a browser that cannot start here (no display libraries, sandbox, …)
        pytest.skip(f"chromium cannot start: {str(e).splitlines()[0][:200]}")


@pytest.fixture
def served(tiny_run):
    """The app under a real uvicorn on 127.0.0.1 (a free port), in a thread of this process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = Engine.load([tiny_run])
    server = uvicorn.Server(
        uvicorn.Config(
            app(engine=engine, limits=Limits(max_length=5_000_000)), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/", engine
    server.should_exit = True
    thread.join(30)
    engine.stop()


def test_page_streams_and_stops(served, tmp_path):
    url, engine = served
    driver = browser()
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 30, poll_frequency=0.05)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
        assert driver.find_element(By.CSS_SELECTOR, "#model option").get_attribute("value") == "run"
        driver.find_element(By.ID, "prime").send_keys("The quick brown fox")
        length = driver.find_element(By.ID, "length")
        length.clear()
        length.send_keys("5000000")  # far more than can stream before Stop
        driver.find_element(By.ID, "start").click()
        out = driver.find_element(By.ID, "out")
        try:
            wait.until(lambda d: len(out.text) > 400)  # streamed text appears
        except Exception:
            raise AssertionError(
                f"no streamed text: status {driver.find_element(By.ID, 'status').text!r}, output "
                f"{out.text[:200]!r}, browser log {driver.get_log('browser')}"
            ) from None
        assert out.text.startswith("The quick brown fox")
        assert engine.active() == 1
        driver.find_element(By.ID, "stop").click()
        wait.until(lambda d: "stopped after" in d.find_element(By.ID, "status").text)
        deadline = time.monotonic() + 5  # the abort reaches the server as a hang-up: the stream ends there too
        while engine.active() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert engine.active() == 0
        assert driver.find_element(By.ID, "start").is_enabled()
        shot = Path(os.environ.get("LSTMGEN_SCREENSHOT") or tmp_path / "serve.png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 1000
    finally:
        driver.quit()
