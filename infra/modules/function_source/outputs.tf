output "bucket" {
  description = "Bucket holding the functions' source zip."
  value       = google_storage_bucket.sources.name
}

output "object" {
  description = "Name of the source zip; it changes exactly when a source file changes."
  value       = google_storage_bucket_object.functions.name
}

output "source_hash" {
  description = "SHA-256 over the names and contents of the source files."
  value       = local.source_hash
}

output "build_service_account_id" {
  description = "Resource name (projects/P/serviceAccounts/EMAIL) of the account that builds the functions."
  value       = google_service_account.build.id
}
