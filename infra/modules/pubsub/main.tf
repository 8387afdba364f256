# The pipeline's topics, one dead-letter topic per topic (with a pull subscription that holds what lands
# there), the notification subscriptions, and the identity Pub/Sub signs its push requests with.
# The push subscriptions to the functions live with each function (modules/cloudfunction).

locals {
  topic_names = toset(values(var.topics))
}

resource "google_pubsub_topic" "this" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; messages hold IDs and metrics, not data worth a KMS key
  for_each = local.topic_names

  project = var.project_id
  name    = each.value
  labels  = var.labels
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; messages hold IDs and metrics, not data worth a KMS key
  for_each = local.topic_names

  project = var.project_id
  name    = "${each.value}-dead-letter"
  labels  = var.labels
}

# A topic without a subscription drops what is published to it: this keeps dead letters for inspection and
# replay. It is the end of the line, so it has no dead-letter policy of its own.
resource "google_pubsub_subscription" "dead_letter_hold" {
  for_each = local.topic_names

  project                    = var.project_id
  name                       = "${each.value}-dead-letter-hold"
  topic                      = google_pubsub_topic.dead_letter[each.value].id
  message_retention_duration = "604800s" # 7 days, the Pub/Sub maximum for unacked messages
  ack_deadline_seconds       = 60
  labels                     = var.labels

  expiration_policy {
    ttl = "" # never expire, however long nothing goes wrong
  }
}

# Subscribers of the notifications: a pull subscription that keeps them until read, and one push
# subscription per webhook.
resource "google_pubsub_subscription" "notifications_pull" {
  count = var.notifications_pull_subscription ? 1 : 0

  project                    = var.project_id
  name                       = "${var.topics[var.notifications_topic_key]}-pull"
  topic                      = google_pubsub_topic.this[var.topics[var.notifications_topic_key]].id
  ack_deadline_seconds       = 60
  message_retention_duration = var.delivery.message_retention_duration
  labels                     = var.labels

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = var.delivery.minimum_backoff
    maximum_backoff = var.delivery.maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[var.topics[var.notifications_topic_key]].id
    max_delivery_attempts = var.delivery.max_delivery_attempts
  }
}

resource "google_pubsub_subscription" "notifications_push" {
  for_each = var.notification_push_endpoints

  project                    = var.project_id
  name                       = "${var.topics[var.notifications_topic_key]}-push-${each.key}"
  topic                      = google_pubsub_topic.this[var.topics[var.notifications_topic_key]].id
  ack_deadline_seconds       = 60
  message_retention_duration = var.delivery.message_retention_duration
  labels                     = var.labels

  push_config {
    push_endpoint = each.value
    oidc_token {
      service_account_email = google_service_account.push_invoker.email
      audience              = each.value
    }
  }

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = var.delivery.minimum_backoff
    maximum_backoff = var.delivery.maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[var.topics[var.notifications_topic_key]].id
    max_delivery_attempts = var.delivery.max_delivery_attempts
  }
}

# The identity in the OIDC token of every push request; it may invoke the functions and nothing else.
resource "google_service_account" "push_invoker" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-push-invoker"
  display_name = "Pub/Sub push identity for ${var.name_prefix}"
}

data "google_project" "this" {
  project_id = var.project_id
}
