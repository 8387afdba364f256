# The service reads import data, writes model exports, reads its wheel and its token, and writes logs and
# metrics. Bucket roles are granted on each bucket, not on the project.

resource "google_project_iam_member" "service" {
  for_each = toset(["roles/logging.logWriter", "roles/monitoring.metricWriter"])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.service.email}"
}

resource "google_storage_bucket_iam_member" "service_reads_imports" {
  bucket = var.imports_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.service.email}"
}

# objectAdmin, not objectCreator: gcsfuse lists and overwrites while writing an export package.
resource "google_storage_bucket_iam_member" "service_writes_exports" {
  bucket = var.exports_bucket
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.service.email}"
}

resource "google_storage_bucket_iam_member" "service_reads_wheel" {
  bucket = google_storage_bucket.service.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.service.email}"
}

resource "google_secret_manager_secret_iam_member" "service_reads_token" {
  project   = var.project_id
  secret_id = var.token_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.service.email}"
}
