locals {
  # Google's Pub/Sub service agent: it forwards dead letters and mints the push subscriptions' OIDC tokens.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.topic_names

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[each.value].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

# Dead-lettering also needs the service agent to acknowledge the message on the source subscription.
resource "google_pubsub_subscription_iam_member" "notifications_pull_dead_letter" {
  count = var.notifications_pull_subscription ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.notifications_pull[0].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "notifications_push_dead_letter" {
  for_each = var.notification_push_endpoints

  project      = var.project_id
  subscription = google_pubsub_subscription.notifications_push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

resource "google_service_account_iam_member" "push_invoker_token_creator" {
  service_account_id = google_service_account.push_invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}
