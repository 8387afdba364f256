variable "project_id" {
  description = "Google Cloud project whose Vertex AI trains the models."
  type        = string
}

variable "imports_bucket" {
  description = "Bucket of import files and images that Vertex AI's service agent may read."
  type        = string
}

variable "exports_bucket" {
  description = "Bucket that Vertex AI's service agent may write model exports to."
  type        = string
}
