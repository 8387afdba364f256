output "grpc_endpoint" {
  description = "host:port of the service's gRPC API inside the VPC (the functions' AUTOML_ENDPOINT)."
  value       = "${google_compute_address.service.address}:${var.grpc_port}"
}

output "rest_url" {
  description = "Base URL of the service's REST API inside the VPC."
  value       = "http://${google_compute_address.service.address}:${var.rest_port}"
}

output "vpc_connector" {
  description = "ID of the Serverless VPC Access connector the functions use to reach the service."
  value       = google_vpc_access_connector.this.id
}

output "instance" {
  description = "Name of the VM running `edgetrain serve`."
  value       = google_compute_instance.service.name
}

output "service_account_email" {
  description = "Service account of the VM."
  value       = google_service_account.service.email
}

output "service_bucket" {
  description = "Bucket holding the wheel the VM installs."
  value       = google_storage_bucket.service.name
}
