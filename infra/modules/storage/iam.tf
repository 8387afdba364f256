# Cloud Storage writes usage logs as this Google group; it needs to create objects in the log bucket.
resource "google_storage_bucket_iam_member" "usage_log_writer" {
  bucket = google_storage_bucket.access_logs.name
  role   = "roles/storage.objectCreator"
  member = "group:cloud-storage-analytics@google.com"
}
