variable "project_id" {
  description = "Google Cloud project of the secret."
  type        = string
}

variable "region" {
  description = "The one region the secret is replicated to (the region that reads it)."
  type        = string
}

variable "secret_id" {
  description = "Secret Manager secret ID."
  type        = string
}

variable "length" {
  description = "Length of the random value (letters and digits)."
  type        = number
  default     = 48
}

variable "labels" {
  description = "Labels put on the secret."
  type        = map(string)
  default     = {}
}
