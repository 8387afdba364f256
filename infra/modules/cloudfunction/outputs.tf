output "name" {
  description = "Function name."
  value       = google_cloudfunctions2_function.this.name
}

output "uri" {
  description = "HTTPS URL of the function."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "service_account_email" {
  description = "The function's own service account."
  value       = google_service_account.function.email
}

output "trigger_subscription" {
  description = "Name of the push subscription that delivers the trigger topic to the function (null for HTTP)."
  value       = local.pubsub_triggered ? google_pubsub_subscription.trigger[0].name : null
}
