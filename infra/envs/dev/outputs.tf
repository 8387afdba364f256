output "topics" {
  description = "The pipeline's topics: environment variable => topic name."
  value       = local.topics
}

output "dead_letter_subscriptions" {
  description = "Topic name => subscription holding its dead letters."
  value       = module.pubsub.dead_letter_subscriptions
}

output "notification_subscriptions" {
  description = "Subscriptions that deliver notifications to subscribers."
  value       = module.pubsub.notification_subscriptions
}

output "status_page_url" {
  description = "URL of the status page (authenticated; see the Deploy to Google Cloud section of README.md)."
  value       = module.functions["status_page"].uri
}

output "functions" {
  description = "Entry point => deployed function name."
  value       = { for k, f in module.functions : k => f.name }
}

output "imports_bucket" {
  description = "Bucket for labeled images and AutoML import CSVs."
  value       = module.storage.imports_bucket
}

output "exports_bucket" {
  description = "Bucket the TF Lite exports are written to."
  value       = module.storage.exports_bucket
}

output "training_backend" {
  description = "The backend the functions train with: automl-v1 or vertex-ai."
  value       = var.training_backend
}

output "vertex_service_agent" {
  description = "With vertex-ai: Vertex AI's service agent, which reads the imports bucket and writes the exports bucket (null with automl-v1)."
  value       = local.vertex ? module.vertex_ai[0].service_agent_email : null
}

output "automl_endpoint" {
  description = "With automl-v1: host:port of the AutoML service the functions call (null with vertex-ai)."
  value       = local.automl_endpoint
}

output "automl_instance" {
  description = "Name of the self-hosted AutoML service VM (null with an existing endpoint)."
  value       = local.self_hosted_automl ? module.automl_service[0].instance : null
}
