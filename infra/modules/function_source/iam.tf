# Cloud Run Builder: what Google documents for a custom build account of Cloud Run functions
# (cloud.google.com/run/docs/configuring/services/build-service-account).
# Narrower than cloudbuild.builds.builder, which can act as other service accounts.
resource "google_project_iam_member" "build" {
  for_each = toset(["roles/run.builder"])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_storage_bucket_iam_member" "build_reads_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}
