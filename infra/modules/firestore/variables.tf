variable "project_id" {
  description = "Google Cloud project of the database."
  type        = string
}

variable "location" {
  description = "Firestore location: a region (e.g. us-central1) or a multi-region (nam5, eur3). Cannot change later."
  type        = string
}

variable "point_in_time_recovery" {
  description = "Keep 7 days of versions to read or restore from (billed as extra storage)."
  type        = bool
  default     = true
}

variable "delete_protection" {
  description = "Refuse to delete the database (and leave it in place on `terraform destroy`)."
  type        = bool
  default     = true
}

variable "composite_indexes" {
  description = "Composite indexes the pipeline's queries need: name => collection and ordered fields (ASCENDING/DESCENDING)."
  type = map(object({
    collection = string
    fields = list(object({
      field_path = string
      order      = string
    }))
  }))
  default = {}
}
