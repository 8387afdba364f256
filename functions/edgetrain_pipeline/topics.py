"""The pipeline's Pub/Sub wiring in one place.

Which topic triggers which entry point of main.py, and which topics the code publishes to. Terraform's
structural tests derive their expectations from this module: change a name here and infra/ must follow.
Each name can be overridden by the environment variable of the same name (Terraform sets them).
"""

import os

TOPIC_IMPORT_REQUESTS = os.environ.get("TOPIC_IMPORT_REQUESTS", "edgetrain-import-requests")
TOPIC_DATASET_IMPORTED = os.environ.get("TOPIC_DATASET_IMPORTED", "edgetrain-dataset-imported")
TOPIC_POLL_TICK = os.environ.get("TOPIC_POLL_TICK", "edgetrain-poll-tick")
TOPIC_TRAINING_FINISHED = os.environ.get("TOPIC_TRAINING_FINISHED", "edgetrain-training-finished")
TOPIC_NOTIFICATIONS = os.environ.get("TOPIC_NOTIFICATIONS", "edgetrain-notifications")

# entry point in main.py -> the topic whose messages trigger it
PUBSUB_TRIGGERS = {
    "import_dataset": TOPIC_IMPORT_REQUESTS,
    "start_training": TOPIC_DATASET_IMPORTED,
    "poll_operations": TOPIC_POLL_TICK,
    "export_and_notify": TOPIC_TRAINING_FINISHED,
}
# entry points served over HTTP
HTTP_FUNCTIONS = ("status_page",)
# topics the functions publish to
# (the status page's form publishes training requests to TOPIC_DATASET_IMPORTED)
PUBLISHED_TOPICS = (TOPIC_DATASET_IMPORTED, TOPIC_TRAINING_FINISHED, TOPIC_NOTIFICATIONS)
