# Vertex AI's service agent reads import files and images from the imports bucket and writes model
# packages into the exports bucket; nothing else, and nothing at project level. objectCreator is the
# narrowest role that writes: each export goes to a new timestamped folder (docs/backends.md: if an export
# ever fails with a permission error on the exports bucket, roles/storage.objectUser is the next step).

resource "google_storage_bucket_iam_member" "agent_reads_imports" {
  bucket = var.imports_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_project_service_identity.vertex.email}"
}

resource "google_storage_bucket_iam_member" "agent_writes_exports" {
  bucket = var.exports_bucket
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_project_service_identity.vertex.email}"
}
