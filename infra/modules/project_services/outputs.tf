output "enabled" {
  description = "The enabled API service names (depend on this to order resources after enablement)."
  value       = [for s in google_project_service.this : s.service]
}
