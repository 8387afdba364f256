# What the vertex-ai training backend needs besides the API itself (project_services): Vertex AI's service
# agent, created now rather than on first use so that the bucket grants in iam.tf can name it. Vertex runs
# the imports and exports as that agent (service-PROJECT_NUMBER@gcp-sa-aiplatform.iam.gserviceaccount.com),
# not as the functions' accounts, so it is the one that needs the buckets.

resource "google_project_service_identity" "vertex" {
  provider = google-beta # the service identity resource exists in the beta provider only
  project  = var.project_id
  service  = "aiplatform.googleapis.com"
}
