variable "project_id" {
  description = "Google Cloud project of the topics and subscriptions."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name of this deployment."
  type        = string
}

variable "topics" {
  description = "The pipeline's topics: environment variable name (as in functions/edgetrain_pipeline/topics.py) => topic name."
  type        = map(string)
}

variable "notifications_topic_key" {
  description = "Key in `topics` of the topic that carries notifications to subscribers."
  type        = string
  default     = "TOPIC_NOTIFICATIONS"
}

variable "notifications_pull_subscription" {
  description = "Create a pull subscription that keeps notifications until a subscriber reads them."
  type        = bool
  default     = true
}

variable "notification_push_endpoints" {
  description = "Webhooks that receive every notification: short name => HTTPS URL (requests carry an OIDC token)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for url in values(var.notification_push_endpoints) : startswith(url, "https://")])
    error_message = "Notification push endpoints must be https:// URLs."
  }
}

variable "delivery" {
  description = "Delivery settings of every subscription: attempts before dead-lettering, retry backoff, retention."
  type = object({
    max_delivery_attempts      = number
    minimum_backoff            = string
    maximum_backoff            = string
    message_retention_duration = string
  })

  validation {
    condition     = var.delivery.max_delivery_attempts >= 5 && var.delivery.max_delivery_attempts <= 100
    error_message = "Pub/Sub accepts 5 to 100 delivery attempts."
  }
}

variable "labels" {
  description = "Labels put on every topic and subscription."
  type        = map(string)
  default     = {}
}
