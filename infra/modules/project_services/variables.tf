variable "project_id" {
  description = "Google Cloud project to enable the APIs in."
  type        = string
}

variable "services" {
  description = "API service names to enable, e.g. pubsub.googleapis.com."
  type        = list(string)
}
