output "dead_letter_alert_policy" {
  description = "Name of the alert policy on dead letters."
  value       = google_monitoring_alert_policy.dead_letters.name
}
