output "secret_id" {
  description = "Secret ID (what secret_environment_variables and `gcloud secrets versions access` take)."
  value       = google_secret_manager_secret.this.secret_id
  # Consumers read the "latest" version (the functions, the VM's boot script): hand the ID on only once the
  # first version exists.
  depends_on = [google_secret_manager_secret_version.this]
}

output "name" {
  description = "Full resource name of the secret (projects/NUMBER/secrets/ID)."
  value       = google_secret_manager_secret.this.name
}
