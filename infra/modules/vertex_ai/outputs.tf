output "service_agent_email" {
  description = "Vertex AI's service agent (service-PROJECT_NUMBER@gcp-sa-aiplatform.iam.gserviceaccount.com)."
  value       = google_project_service_identity.vertex.email
}
