# One Cloud Function (2nd gen) for one entry point of functions/main.py, with its own service account.
# Pub/Sub-triggered functions get their messages through a push subscription declared here, not through an
# Eventarc trigger: the subscription Eventarc creates cannot be given a dead-letter policy from Terraform
# (hashicorp/terraform-provider-google#25069), and this one has one. functions-framework turns the push
# request into the same CloudEvent Eventarc would deliver, and the local stack is wired the same way.

locals {
  pubsub_triggered = var.trigger_topic_id != null
  # The push deadline is the time Pub/Sub waits for the function's answer before it retries.
  ack_deadline_seconds = min(600, max(10, var.timeout_seconds))
}

resource "google_service_account" "function" {
  project      = var.project_id
  account_id   = var.service_account_id
  display_name = "Runs the ${var.name} function"
}

resource "google_cloudfunctions2_function" "this" {
  project     = var.project_id
  location    = var.region
  name        = var.name
  description = var.description
  labels      = var.labels

  build_config {
    runtime         = var.runtime
    entry_point     = var.entry_point
    service_account = var.build_service_account_id
    source {
      storage_source {
        bucket = var.source_bucket
        object = var.source_object
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.function.email
    available_memory                 = var.memory
    timeout_seconds                  = var.timeout_seconds
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = 1
    all_traffic_on_latest_revision   = true
    # Pub/Sub pushes count as internal traffic; only the status page is reachable from outside.
    ingress_settings              = local.pubsub_triggered ? "ALLOW_INTERNAL_ONLY" : var.http_ingress
    vpc_connector                 = var.vpc_connector
    vpc_connector_egress_settings = var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"
    environment_variables         = var.environment_variables

    dynamic "secret_environment_variables" {
      for_each = var.secret_environment_variables
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.function]
}

resource "google_pubsub_subscription" "trigger" {
  count = local.pubsub_triggered ? 1 : 0

  project                    = var.project_id
  name                       = "${var.name}-push"
  topic                      = var.trigger_topic_id
  ack_deadline_seconds       = local.ack_deadline_seconds
  message_retention_duration = var.delivery.message_retention_duration
  labels                     = var.labels

  push_config {
    push_endpoint = google_cloudfunctions2_function.this.service_config[0].uri
    oidc_token {
      service_account_email = var.push_invoker_email
      audience              = google_cloudfunctions2_function.this.service_config[0].uri
    }
  }

  # A failed call (non-2xx: the function raised to ask for a retry) is retried with exponential backoff;
  # after max_delivery_attempts the message goes to the dead-letter topic instead of looping forever.
  retry_policy {
    minimum_backoff = var.delivery.minimum_backoff
    maximum_backoff = var.delivery.maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = var.dead_letter_topic_id
    max_delivery_attempts = var.delivery.max_delivery_attempts
  }

  expiration_policy {
    ttl = "" # never expire, however quiet the topic
  }

  lifecycle {
    precondition {
      condition     = var.dead_letter_topic_id != null && var.push_invoker_email != null
      error_message = "A Pub/Sub-triggered function needs dead_letter_topic_id and push_invoker_email."
    }
  }
}
