variable "project_id" {
  description = "Google Cloud project that owns the buckets (also the first part of their global names)."
  type        = string
}

variable "location" {
  description = "Bucket location: the region the functions and the AutoML service run in."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name of this deployment."
  type        = string
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete buckets that still hold objects (keep false outside test projects)."
  type        = bool
  default     = false
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted object version is kept before it is deleted."
  type        = number
  default     = 30
}

variable "access_log_retention_days" {
  description = "Days bucket access logs are kept."
  type        = number
  default     = 90
}
