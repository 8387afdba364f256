variable "project_id" {
  description = "Google Cloud project of the alert policy."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name of this deployment."
  type        = string
}

variable "dead_letter_subscriptions" {
  description = "Names of the subscriptions that hold dead letters."
  type        = list(string)
}

variable "alert_emails" {
  description = "Email addresses notified when a message is dead-lettered (none: the incident shows in the console only)."
  type        = list(string)
  default     = []
}
