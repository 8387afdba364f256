# Cloud Run Builder: the role Google made for accounts that build functions (build logs, the image).
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
