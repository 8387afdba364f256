variable "project_id" {
  description = "Google Cloud project of the source bucket and the build service account."
  type        = string
}

variable "location" {
  description = "Location of the source bucket (the functions' region)."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name of this deployment."
  type        = string
}

variable "source_dir" {
  description = "Path of the functions/ folder (main.py, requirements.txt and the edgetrain_pipeline package)."
  type        = string
}

variable "access_log_bucket" {
  description = "Bucket receiving the source bucket's access logs."
  type        = string
}
