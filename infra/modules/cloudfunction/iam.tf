# What this function's service account may do, and who may call the function. Nothing else.

resource "google_project_iam_member" "function" {
  for_each = toset(var.project_roles)

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.function.email}"
}

resource "google_pubsub_topic_iam_member" "publishes" {
  for_each = var.publishes_to # keyed by topic name: known at plan time, unlike the IDs

  project = var.project_id
  topic   = each.value
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.function.email}"
}

resource "google_secret_manager_secret_iam_member" "function" {
  for_each = var.secret_environment_variables

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function.email}"
}

resource "google_storage_bucket_iam_member" "reads" {
  for_each = var.reads_buckets

  bucket = each.value
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.function.email}"
}

# Pub/Sub-triggered: only the push subscription's identity may invoke the function.
# HTTP: the members given (none by default: nobody but project owners); allUsers opens it.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  # Static keys: the push identity's email is only known once its account exists.
  for_each = local.pubsub_triggered ? tomap({ push = "serviceAccount:${var.push_invoker_email}" }) : { for m in var.http_invokers : m => m }

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = each.value
}

# Dead-lettering needs the Pub/Sub service agent to acknowledge the message it forwards.
resource "google_pubsub_subscription_iam_member" "dead_letter_ack" {
  count = local.pubsub_triggered ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.trigger[0].name
  role         = "roles/pubsub.subscriber"
  member       = var.pubsub_service_agent
}
