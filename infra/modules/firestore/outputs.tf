output "database" {
  description = "Name of the Firestore database the functions use."
  value       = google_firestore_database.this.name
}
