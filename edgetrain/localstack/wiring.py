"""Pub/Sub wiring of the local stack: topics, push subscriptions to the functions, the notifications pull.

How a push reaches a CloudEvent function: the Pub/Sub emulator POSTs the raw push body
`{"message": {"data", "attributes", "messageId", "publishTime"}, "subscription": ...}` with no ce-* headers.
functions-framework (event_conversion.marshal_background_event_data) recognises that body as a raw Pub/Sub
push and converts it into a `google.cloud.pubsub.topic.v1.messagePublished` CloudEvent with id = messageId,
time = publishTime and data = {"message": ...}, the shape Eventarc delivers in the cloud. It takes the
event's source topic from the request *path* only (`projects/P/topics/T`); a push endpoint without it yields
source "//pubsub.googleapis.com/" and no topic. So each push endpoint is the function's URL plus
`/projects/P/topics/T` (functions-framework serves a cloudevent function on every path). Unlike Eventarc, the
converted data has no top-level "subscription" field; the pipeline does not read it.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.api_core import exceptions as api_exceptions
from google.cloud import pubsub_v1

# Cloud Functions' Eventarc subscriptions use the longest ack deadline: a push is acked by the 2xx response,
# and a slow handler must not be redelivered while it still runs.
PUSH_ACK_DEADLINE_S = 600
RETRY_MIN_BACKOFF_S = 2
RETRY_MAX_BACKOFF_S = 60


def push_endpoint(function_url: str, project: str, topic: str) -> str:
    """The URL a push subscription of `topic` posts to, so functions-framework knows the source topic."""
    return f"{function_url.rstrip('/')}/projects/{project}/topics/{topic}"


def create_topics(publisher: pubsub_v1.PublisherClient, project: str, topics: Iterable[str]) -> list[str]:
    """Create each topic (existing ones are kept) and return their full names."""
    names = []
    for topic in dict.fromkeys(topics):
        name = publisher.topic_path(project, topic)
        try:
            publisher.create_topic(name=name)
        except api_exceptions.AlreadyExists:
            pass
        names.append(name)
    return names


def create_push_subscription(
    subscriber: pubsub_v1.SubscriberClient, project: str, topic: str, function_name: str, function_url: str
) -> str:
    """A push subscription `<topic>--<function>` that delivers every message of `topic` to the function."""
    subscription = subscriber.subscription_path(project, f"{topic}--{function_name}".replace("_", "-"))
    subscriber.create_subscription(
        request={
            "name": subscription,
            "topic": subscriber.topic_path(project, topic),
            "push_config": {"push_endpoint": push_endpoint(function_url, project, topic)},
            "ack_deadline_seconds": PUSH_ACK_DEADLINE_S,
            "retry_policy": {
                "minimum_backoff": {"seconds": RETRY_MIN_BACKOFF_S},
                "maximum_backoff": {"seconds": RETRY_MAX_BACKOFF_S},
            },
        }
    )
    return subscription


def create_pull_subscription(
    subscriber: pubsub_v1.SubscriberClient, project: str, topic: str, name: str
) -> str:
    """A pull subscription (the runner's own view of a topic, e.g. the notifications)."""
    subscription = subscriber.subscription_path(project, name)
    subscriber.create_subscription(
        request={
            "name": subscription,
            "topic": subscriber.topic_path(project, topic),
            "ack_deadline_seconds": 60,
        }
    )
    return subscription
