output "database" {
  description = "Name of the Firestore database the functions use."
  value       = google_firestore_database.this.name
}

output "composite_indexes" {
  description = "Names of the composite indexes created."
  value       = keys(google_firestore_index.this)
}
