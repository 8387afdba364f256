"""The status page in headless Chromium: served by functions-framework on the real Firestore and Pub/Sub
emulators, it renders a training, refreshes it, and its form publishes a training request."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta

import pytest
from edgetrain_pipeline import topics
from edgetrain_pipeline.config import get_env
from edgetrain_pipeline.firestore_store import FirestoreStore
from google.cloud import pubsub_v1

from edgetrain.localstack.functions import start_function
from tests.chromium import CHROMEDRIVER, CHROMIUM, start_chromium

from .conftest import FUNCTIONS_DIR, TEST_ENV
from .fake_automl import evaluation_summary

pytestmark = [
    pytest.mark.browser,
    pytest.mark.emulators,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian chromium and chromium-driver"),
]
WAIT_S = 60  # generous: the machine is shared


@pytest.fixture
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


@pytest.fixture
def status_page(clean_emulators, pipeline_env, tmp_path):
    """The status_page function as its own process (refreshing every second), its URL."""
    pubsub, firestore = clean_emulators
    env = {**os.environ, **TEST_ENV, **pubsub.env(), **firestore.env(), "STATUS_REFRESH_S": "1"}
    function = start_function(FUNCTIONS_DIR / "main.py", "status_page", "http", tmp_path, env)
    try:
        function.wait_ready()
        yield function.url
    finally:
        function.stop()


@pytest.fixture
def training_requests(clean_emulators):
    """A pull subscription on start_training's topic: what the form publishes ends up here."""
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(TEST_ENV["GOOGLE_CLOUD_PROJECT"], topics.TOPIC_DATASET_IMPORTED)
    subscription = subscriber.subscription_path(TEST_ENV["GOOGLE_CLOUD_PROJECT"], "form-requests")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)
    yield lambda: subscriber.pull(subscription=subscription, max_messages=10, timeout=30).received_messages
    subscriber.close()


def seed(store: FirestoreStore) -> None:
    store.update(
        "datasets",
        "cards",
        {
            "datasetId": "cards",
            "dataset": "projects/p/locations/l/datasets/cards",
            "trainingCount": 1,
            "activeTraining": "tr-browser",
        },
    )
    store.update(
        "trainings",
        "tr-browser",
        {
            "trainingId": "tr-browser",
            "datasetId": "cards",
            "dataset": "projects/p/locations/l/datasets/cards",
            "displayName": "cards_browser",
            "modelType": "mobile-versatile-1",
            "state": "RUNNING",
            "progressPercent": 30,
            "trainBudgetMilliNodeHours": 24_000,
            "evaluation": evaluation_summary(0.5),
            "trainingCurve": {
                "points": [
                    {"stage": "head", "epoch": 1, "loss": 1.8, "valMap50": 0.2},
                    {"stage": "head", "epoch": 2, "loss": 1.1, "valMap50": 0.35},
                    {"stage": "finetune", "epoch": 1, "loss": 0.9, "valMap50": 0.41},
                ]
            },
            "createdAt": datetime.now(UTC) - timedelta(minutes=3),
        },
    )


def test_page_renders_refreshes_and_its_form_publishes_a_request(status_page, training_requests, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    store = FirestoreStore(get_env())
    seed(store)
    wait = WebDriverWait(browser, WAIT_S)

    browser.get(status_page)
    row = wait.until(ec.presence_of_element_located((By.ID, "training-tr-browser")))
    assert "cards_browser" in row.text and "RUNNING" in row.text and "30%" in row.text
    assert row.find_element(By.CSS_SELECTOR, "td.map50").text == "0.500"

    store.update("trainings", "tr-browser", {"progressPercent": 80})
    wait.until(ec.text_to_be_present_in_element((By.ID, "training-tr-browser"), "80%"))

    browser.find_element(By.ID, "displayName").send_keys("cards_accurate")
    browser.find_element(By.CSS_SELECTOR, "input[value='higher-accuracy']").click()
    budget = browser.find_element(By.ID, "budgetNodeHours")
    budget.clear()
    budget.send_keys("3")
    browser.find_element(By.ID, "train-submit").click()
    flash = wait.until(ec.presence_of_element_located((By.ID, "requested")))

    (received,) = training_requests()
    message = json.loads(received.message.data)
    assert message["requestId"] in flash.text
    assert message == {
        "schemaVersion": 1,
        "dataset": "cards",
        "displayName": "cards_accurate",
        "modelType": "mobile-high-accuracy-1",
        "trainBudgetMilliNodeHours": 3_000,
        "requestId": message["requestId"],
        "source": "manual",
    }


def test_a_running_training_s_view_shows_its_curve_and_eta_and_keeps_itself_current(
    status_page, browser, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    store = FirestoreStore(get_env())
    seed(store)
    wait = WebDriverWait(browser, WAIT_S)

    browser.get(f"{status_page}/training/tr-browser")
    timing = wait.until(ec.presence_of_element_located((By.ID, "timing")))
    browser.save_screenshot(str(tmp_path / "running.png"))

    # created 3 min ago, 30 % done: about 7 min left (the budget allows 24 h)
    assert re.fullmatch(
        r"30% · elapsed 3 min \d\d s · about [67] min \d\d s left · budget 24 h 00 min on one node",
        timing.text,
    )
    curve = browser.find_element(By.ID, "learning-curve")
    assert len(curve.find_element(By.CSS_SELECTOR, "polyline.val-map").get_attribute("points").split()) == 3
    assert [t.text for t in curve.find_elements(By.TAG_NAME, "text") if t.text in ("head", "finetune")] == [
        "head",
        "finetune",
    ]

    store.update("trainings", "tr-browser", {"progressPercent": 80})
    wait.until(ec.text_to_be_present_in_element((By.ID, "timing"), "80%"))
