"""The status page as an evaluation console, in headless Chromium, for a model trained by the whole local
stack (`edgetrain local-stack run --keep`: real emulators, `edgetrain serve` and its trainer, every function
under functions-framework) on a tiny dataset. One trained model serves every test here; each test saves a
screenshot of its view under its tmp dir for a reviewer."""

from __future__ import annotations

import csv
import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from edgetrain_service.predict import UNKNOWN_FORMAT
from tests.chromium import CHROMEDRIVER, CHROMIUM, start_chromium
from tests.e2e.runner import TINY_TRAINER_OVERRIDES, run_dir_of, runner_command, tiny_dataset

pytestmark = [
    pytest.mark.emulators,
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian chromium and chromium-driver"),
]
STACK_TIMEOUT_S = 600
# Still a couple of minutes, but a model that finds cells (the CI-sized runner settings find nothing above
# the 0.05 score floor, and an empty model leaves no threshold, sample box or Predict box to show).
BROWSER_TRAINER_OVERRIDES = TINY_TRAINER_OVERRIDES | {
    "max_epochs": 20,
    "max_train_images": 24,
    "head_batch_size": 4,
    "head_learning_rate": 0.01,
    "ema_epochs": 0,
}
WAIT_S = 60
LAPTOP_WIDTH = 1400


class KeptStack:
    """The runner kept up after its training; stopped with Ctrl-C (SIGINT) as a person would."""

    def __init__(self, folder: Path):
        self.data = tiny_dataset(folder / "tiny", {"TRAIN": 24, "VALIDATION": 4, "TEST": 4})
        rows = list(csv.reader(self.data.open()))
        with self.data.open("a", newline="") as out:  # one row the import rejects: x_max before x_min
            csv.writer(out, lineterminator="\n").writerow(
                [rows[0][0], rows[0][1], rows[0][2], 0.5, 0.1, "", "", 0.4, 0.3, "", ""]
            )
        self.bad_line = len(rows) + 1
        self.log = folder / "runner.log"
        overrides = folder / "overrides.json"
        self.var_dir = folder / "var"
        command = runner_command(self.data, self.var_dir, overrides, "--keep")
        overrides.write_text(json.dumps(BROWSER_TRAINER_OVERRIDES))  # in place of the runner's tiny ones
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, text=True)
        try:
            self.evaluation_url = self._wait_for(r"evaluation view: (\S+)")
        except BaseException:  # a failed or interrupted start must not leave the stack running
            self.stop()
            raise
        self.root = self.evaluation_url.rsplit("/training/", 1)[0] + "/"

    def _wait_for(self, pattern: str) -> str:
        deadline = time.monotonic() + STACK_TIMEOUT_S
        while time.monotonic() < deadline:
            match = re.search(pattern, self.log.read_text())
            if match:
                return match.group(1)
            if self.process.poll() is not None:
                pytest.fail(f"the runner exited ({self.process.returncode}):\n{self.log.read_text()[-4000:]}")
            time.sleep(1)
        pytest.fail(f"no {pattern!r} within {STACK_TIMEOUT_S} s:\n{self.log.read_text()[-4000:]}")

    def test_images(self) -> list[Path]:
        rows = csv.reader(self.data.open())
        return sorted({self.data.parent / row[1] for row in rows if row[0] == "TEST"})

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=180)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    kept = KeptStack(tmp_path_factory.mktemp("stack"))
    yield kept
    kept.stop()


@pytest.fixture
def browser():
    driver = start_chromium(LAPTOP_WIDTH, 900)
    yield driver
    driver.quit()


def _wait(browser):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_S)


def _no_sideways_scrolling(browser) -> bool:
    return browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def test_the_overview_fits_a_laptop_and_leads_to_the_evaluation_view(stack, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(stack.root)
    row = _wait(browser).until(
        lambda b: b.find_element(By.CSS_SELECTOR, "tr.training[data-state='SUCCEEDED']")
    )
    browser.save_screenshot(str(tmp_path / "overview.png"))

    assert _no_sideways_scrolling(browser)
    headers = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "table.trainings th")]
    assert "mAP@0.5" in headers and "mAP@[.5:.95]" in headers
    assert re.fullmatch(r"[01]\.\d{3}", row.find_element(By.CSS_SELECTOR, "td.map50").text)
    export = row.find_element(By.CSS_SELECTOR, "td.export details")
    assert "…" in export.text and "gs://edgetrain-local/" not in export.text  # shortened until clicked
    export.click()
    assert export.text.startswith("gs://edgetrain-local/model-export/")
    row.find_element(By.CSS_SELECTOR, "a.display-name").click()
    assert _wait(browser).until(lambda b: b.current_url == stack.evaluation_url)


def test_the_evaluation_view_moves_precision_and_recall_with_the_threshold(stack, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(stack.evaluation_url)
    rows = _wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "tr.label-row"))
    labels = [r.find_element(By.CSS_SELECTOR, "td").text for r in rows]
    assert labels and labels == sorted(labels) and set(labels) <= {"Platelets", "RBC", "WBC"}

    def shown():
        return [
            (
                r.find_element(By.CSS_SELECTOR, ".precision-at").text,
                r.find_element(By.CSS_SELECTOR, ".recall-at").text,
            )
            for r in rows
        ] + [
            m.get_attribute("cx") + "," + m.get_attribute("cy")
            for m in browser.find_elements(By.CSS_SELECTOR, "circle.marker")
        ]

    slider = browser.find_element(By.ID, "threshold")
    slider.send_keys(Keys.HOME)
    low = shown()
    slider.send_keys(Keys.END)
    high = shown()
    browser.save_screenshot(str(tmp_path / "evaluation.png"))

    assert browser.find_element(By.ID, "threshold-value").text == "0.99"
    assert low != high
    # a stricter threshold keeps fewer detections: recall can only fall
    assert all(
        float(lo[1]) >= float(hi[1]) for lo, hi in zip(low[: len(rows)], high[: len(rows)], strict=True)
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.pr polyline")) == len(rows)
    assert browser.find_elements(By.CSS_SELECTOR, "#learning-curve polyline.loss")
    assert browser.find_element(By.ID, "confusion").find_elements(By.CSS_SELECTOR, "td")
    assert _no_sideways_scrolling(browser)


def test_the_sample_predictions_load_with_their_boxes(stack, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(stack.evaluation_url)
    samples = _wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#samples .sample"))
    _wait(browser).until(
        lambda b: all(
            b.execute_script("return arguments[0].complete", s.find_element(By.TAG_NAME, "img"))
            for s in samples
        )
    )
    browser.execute_script("arguments[0].scrollIntoView()", samples[0])
    browser.save_screenshot(str(tmp_path / "samples.png"))

    assert len(samples) == 4  # tiny dataset: 4 TEST images, 3 worst then the 1 left as best
    for sample in samples:
        image = sample.find_element(By.TAG_NAME, "img")
        assert browser.execute_script("return arguments[0].naturalWidth", image) > 0
        assert sample.find_elements(By.CSS_SELECTOR, "rect.truth")
    kinds = [c.text.split(" · ")[0] for c in browser.find_elements(By.CSS_SELECTOR, ".sample-caption")]
    assert kinds == ["worst", "worst", "worst", "best"]


def test_the_saved_evaluation_view_works_as_a_file_without_the_stack(stack, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    saved = run_dir_of(stack.var_dir) / "evaluation.html"
    assert f"evaluation view, saved as one file: {saved}" in stack.log.read_text()

    browser.get(saved.as_uri())
    samples = _wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#samples .sample img"))
    _wait(browser).until(lambda b: all(b.execute_script("return arguments[0].complete", i) for i in samples))
    slider = browser.find_element(By.ID, "threshold")
    slider.send_keys(Keys.HOME)
    low = browser.find_element(By.CSS_SELECTOR, "tr.label-row .recall-at").text
    slider.send_keys(Keys.END)
    high = browser.find_element(By.CSS_SELECTOR, "tr.label-row .recall-at").text
    browser.save_screenshot(str(tmp_path / "saved-view.png"))

    assert len(samples) == 4
    assert all(browser.execute_script("return arguments[0].naturalWidth", i) > 0 for i in samples)
    assert browser.find_element(By.ID, "threshold-value").text == "0.99" and float(low) >= float(high)


def test_the_imports_view_lists_the_stack_import(stack, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(stack.root + "imports")
    row = _wait(browser).until(lambda b: b.find_element(By.CSS_SELECTOR, "tr.import"))
    browser.save_screenshot(str(tmp_path / "imports.png"))

    assert "SUCCEEDED" in row.text and row.find_element(By.CSS_SELECTOR, ".rejected-count").text == "1"
    (rejected,) = browser.find_elements(By.CSS_SELECTOR, "tr.rejected-row")
    assert rejected.find_element(By.CSS_SELECTOR, ".line").text == str(stack.bad_line)
    assert rejected.find_element(By.CSS_SELECTOR, ".reason").text
    assert _no_sideways_scrolling(browser)


def test_trying_an_image_draws_boxes_and_refuses_a_text_file(stack, browser, tmp_path):
    from selenium.webdriver.common.by import By

    def submit(path: Path, threshold: str):
        browser.get(stack.root + "try")
        browser.find_element(By.ID, "try-image").send_keys(str(path))
        box = browser.find_element(By.ID, "try-threshold")
        box.clear()
        box.send_keys(threshold)
        browser.find_element(By.ID, "try-submit").click()

    submit(stack.test_images()[0], "0.3")
    result = _wait(browser).until(lambda b: b.find_element(By.ID, "try-result"))
    browser.save_screenshot(str(tmp_path / "try-image.png"))
    assert int(result.text.split()[0]) > 0
    assert browser.find_elements(By.CSS_SELECTOR, "#try-picture rect.predicted")
    assert len(browser.find_elements(By.CSS_SELECTOR, "tr.try-box")) == int(result.text.split()[0])

    text_file = tmp_path / "notes.jpg"
    text_file.write_text("these are notes, not a picture\n")
    submit(text_file, "0.5")
    error = _wait(browser).until(lambda b: b.find_element(By.ID, "try-error"))
    browser.save_screenshot(str(tmp_path / "try-text-file.png"))
    assert error.text == f"notes.jpg: {UNKNOWN_FORMAT}"  # the service's own words, shown as text
