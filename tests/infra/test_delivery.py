"""Every Pub/Sub delivery is bounded: retries back off, a message that keeps failing goes to a dead-letter
topic after a bounded number of attempts, and nothing is delivered through a subscription Terraform does not
control (no Eventarc triggers, whose subscriptions cannot be given a dead-letter policy)."""

from __future__ import annotations

import re

from . import pipeline_code
from .conftest import FUNCTIONS
from .terraform_config import expression, single

MIN_ATTEMPTS, MAX_ATTEMPTS = 5, 100  # what Pub/Sub accepts


def _subscriptions(modules):
    return [
        (m, n, s) for m, f in modules.items() for n, s in f.resources_of("google_pubsub_subscription").items()
    ]


def _is_dead_letter_hold(subscription) -> bool:
    return "google_pubsub_topic.dead_letter[" in str(subscription["topic"])


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)s", duration)
    assert match, f"not a duration: {duration!r}"
    return float(match.group(1))


def _delivery_setting(module_folder, env, value, key):
    """A delivery setting as deployed: a literal, or var.delivery.KEY as the environment sets it."""
    if isinstance(value, (int, float)) or not str(value).startswith("${"):
        return value
    assert expression(value) == f"var.delivery.{key}", value
    assert "delivery" in module_folder.variables
    setting = env.locals["delivery"][key]
    if isinstance(setting, str) and setting.startswith("${var."):
        return env.variable_default(expression(setting).removeprefix("var."))
    return setting


def test_every_consuming_subscription_dead_letters_after_bounded_attempts(modules, dev):
    consuming = [(m, n, s) for m, n, s in _subscriptions(modules) if not _is_dead_letter_hold(s)]
    assert {m for m, _, _ in consuming} >= {"cloudfunction", "pubsub"}
    for module, name, subscription in consuming:
        where = f"{module}.{name}"
        policy = single(subscription.get("dead_letter_policy"))
        assert "dead_letter" in policy["dead_letter_topic"], where
        attempts = _delivery_setting(
            modules[module], dev, policy["max_delivery_attempts"], "max_delivery_attempts"
        )
        assert MIN_ATTEMPTS <= attempts <= MAX_ATTEMPTS, where
        validation = single(modules[module].variables["delivery"]["validation"])["condition"]
        assert f">= {MIN_ATTEMPTS}" in validation and f"<= {MAX_ATTEMPTS}" in validation, where


def test_every_consuming_subscription_retries_with_backoff(modules, dev):
    for module, name, subscription in _subscriptions(modules):
        if _is_dead_letter_hold(subscription):
            continue
        retry = single(subscription.get("retry_policy"))
        low = _seconds(_delivery_setting(modules[module], dev, retry["minimum_backoff"], "minimum_backoff"))
        high = _seconds(_delivery_setting(modules[module], dev, retry["maximum_backoff"], "maximum_backoff"))
        assert 0 < low < high <= 600, f"{module}.{name}: backoff {low}..{high}s"


def retry_window_s(attempts: int, minimum: float, maximum: float) -> float:
    """The shortest time from a message's first delivery to its last before it is dead-lettered.

    Pub/Sub documents the retry delay as "exponential based on provided minimum and maximum backoffs",
    best effort, and publishes no growth factor. The conservative reading: every one of the attempts - 1
    gaps lasts at least the minimum backoff (and no more than the maximum); the handlers' own run time is
    not counted.
    """
    return (attempts - 1) * min(minimum, maximum)


def test_retry_window_formula_is_conservative():
    assert retry_window_s(5, 10, 600) == 40  # the old setting: far below the 300 s lease
    assert retry_window_s(10, 60, 600) == 540
    assert retry_window_s(5, 700, 600) == 4 * 600


def test_redelivery_outlives_the_training_claim_lease(modules, dev):
    """start_training answers "in progress" (and fails, so that Pub/Sub redelivers) while another delivery's
    claim is younger than CREATE_LEASE_S; a claim left by a delivery that died is taken over only by a
    delivery after the lease, so the last delivery must come after it (docs/pipeline.md)."""
    config_py = FUNCTIONS / "edgetrain_pipeline" / "config.py"
    lease = float(
        dev.variable_default("pipeline_settings").get(
            "CREATE_LEASE_S", pipeline_code.setting_default(config_py, "CREATE_LEASE_S")
        )
    )
    assert lease >= 60  # really read from config.py (300 s today)
    trigger = modules["cloudfunction"].resources_of("google_pubsub_subscription")["trigger"]
    attempts = _delivery_setting(
        modules["cloudfunction"],
        dev,
        single(trigger["dead_letter_policy"])["max_delivery_attempts"],
        "max_delivery_attempts",
    )
    retry = single(trigger["retry_policy"])
    low = _seconds(
        _delivery_setting(modules["cloudfunction"], dev, retry["minimum_backoff"], "minimum_backoff")
    )
    high = _seconds(
        _delivery_setting(modules["cloudfunction"], dev, retry["maximum_backoff"], "maximum_backoff")
    )
    window = retry_window_s(attempts, low, high)
    assert window > lease, (
        f"{attempts} deliveries with a {low:g} s minimum backoff span at least {window:g} s, "
        f"not past the {lease:g} s claim lease"
    )


def test_no_subscription_expires_and_dead_letters_are_kept(modules):
    holds = 0
    for module, name, subscription in _subscriptions(modules):
        assert single(subscription["expiration_policy"])["ttl"] == "", (
            f"{module}.{name} would expire when idle"
        )
        if _is_dead_letter_hold(subscription):
            holds += 1
            assert _seconds(subscription["message_retention_duration"]) == 7 * 24 * 3600
            assert "dead_letter_policy" not in subscription, "a dead-letter sink must not dead-letter itself"
    assert holds == 1  # one for_each resource: one hold subscription per dead-letter topic


def test_dead_lettering_is_permitted_for_the_pubsub_service_agent(modules):
    pubsub = modules["pubsub"]
    publishers = pubsub.resources_of("google_pubsub_topic_iam_member")
    assert any(
        "google_pubsub_topic.dead_letter[" in b["topic"]
        and b["role"] == "roles/pubsub.publisher"
        and "pubsub_service_agent" in b["member"]
        for b in publishers.values()
    )
    for module, name, subscription in _subscriptions(modules):
        if "dead_letter_policy" not in subscription:
            continue
        grants = [
            b
            for b in modules[module].resources_of("google_pubsub_subscription_iam_member").values()
            if f"google_pubsub_subscription.{name}[" in b["subscription"]
            and b["role"] == "roles/pubsub.subscriber"
        ]
        assert grants, f"{module}.{name}: the service agent cannot acknowledge what it dead-letters"


def test_functions_are_triggered_only_through_their_own_push_subscription(modules):
    function_module = modules["cloudfunction"]
    function = function_module.resources_of("google_cloudfunctions2_function")["this"]
    assert "event_trigger" not in function, "Eventarc subscriptions cannot have a dead-letter policy"
    trigger = function_module.resources_of("google_pubsub_subscription")["trigger"]
    assert expression(trigger["topic"]) == "var.trigger_topic_id"
    push = single(trigger["push_config"])
    assert expression(push["push_endpoint"]) == "google_cloudfunctions2_function.this.service_config[0].uri"
    assert expression(single(push["oidc_token"])["service_account_email"]) == "var.push_invoker_email"
    assert "var.trigger_topic_id != null" in function_module.locals["pubsub_triggered"]
    assert "local.pubsub_triggered" in trigger["count"]


def test_scheduler_ticks_the_topic_that_triggers_the_poller(dev):
    topics = pipeline_code.topic_contract(FUNCTIONS / "edgetrain_pipeline" / "topics.py")
    poll_topic = topics.pubsub_triggers["poll_operations"]
    scheduler = dev.modules["scheduler"]
    assert expression(scheduler["topic_id"]) == f"module.pubsub.topic_ids[local.topics.{poll_topic}]"
    assert dev.variables["poll_schedule"]["default"] == "* * * * *"
    # a stopped service VM would turn every tick into a dead letter
    assert expression(scheduler["paused"]) == "local.self_hosted_automl && !var.automl_running"


def test_dead_letters_raise_an_alert(modules, dev):
    assert expression(dev.modules["alerts"]["dead_letter_subscriptions"]) == (
        "values(module.pubsub.dead_letter_subscriptions)"
    )
    policy = modules["alerts"].resources_of("google_monitoring_alert_policy")["dead_letters"]
    condition = single(single(policy["conditions"])["condition_threshold"])
    assert "subscription/num_undelivered_messages" in condition["filter"]
    assert "var.dead_letter_subscriptions" in condition["filter"]
    assert condition["comparison"] == "COMPARISON_GT" and condition["threshold_value"] == 0
