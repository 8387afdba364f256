output "imports_bucket" {
  description = "Bucket that upstream systems write labeled images and AutoML import CSVs to."
  value       = google_storage_bucket.data["imports"].name
}

output "exports_bucket" {
  description = "Bucket that model exports (TF Lite packages) are written to."
  value       = google_storage_bucket.data["exports"].name
}

output "access_logs_bucket" {
  description = "Bucket holding the usage logs of the imports and exports buckets."
  value       = google_storage_bucket.access_logs.name
}
