variable "project_id" {
  description = "Google Cloud project of the function."
  type        = string
}

variable "region" {
  description = "Region the function runs in."
  type        = string
}

variable "name" {
  description = "Function name (also the name of its Cloud Run service): lowercase letters, digits and hyphens."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,48}[a-z0-9]$", var.name))
    error_message = "Function names are lowercase letters, digits and hyphens, at most 50 characters."
  }
}

variable "description" {
  description = "What the function does, shown in the console."
  type        = string
  default     = null
}

variable "entry_point" {
  description = "Name of the decorated function in functions/main.py."
  type        = string
}

variable "runtime" {
  description = "Cloud Functions runtime."
  type        = string
  default     = "python311"
}

variable "source_bucket" {
  description = "Bucket holding the source zip."
  type        = string
}

variable "source_object" {
  description = "Object name of the source zip (content-hashed, so a new name means new code)."
  type        = string
}

variable "build_service_account_id" {
  description = "Resource name of the service account that builds the function (not the default compute one)."
  type        = string
}

variable "service_account_id" {
  description = "account_id of the function's own service account (6-30 characters)."
  type        = string
}

variable "project_roles" {
  description = "Project-level roles of the function's service account, e.g. roles/datastore.user. No primitive roles."
  type        = list(string)
  default     = []

  validation {
    condition     = length(setintersection(toset(var.project_roles), toset(["roles/owner", "roles/editor", "roles/viewer"]))) == 0
    error_message = "Primitive roles (owner, editor, viewer) are not allowed: grant the predefined role that is needed."
  }
}

variable "publishes_to" {
  description = "Topics the function publishes to, topic name => topic ID (it gets roles/pubsub.publisher on each)."
  type        = map(string)
  default     = {}
}

variable "environment_variables" {
  description = "Plain environment variables of the function."
  type        = map(string)
  default     = {}
}

variable "secret_environment_variables" {
  description = "Environment variable name => Secret Manager secret ID (latest version); the function may read only these."
  type        = map(string)
  default     = {}
}

variable "trigger_topic_id" {
  description = "Topic whose messages are pushed to the function; null for an HTTP function."
  type        = string
  default     = null
}

variable "dead_letter_topic_id" {
  description = "Where messages go after max_delivery_attempts failed deliveries (required with trigger_topic_id)."
  type        = string
  default     = null
}

variable "push_invoker_email" {
  description = "Service account in the push requests' OIDC token (required with trigger_topic_id)."
  type        = string
  default     = null
}

variable "pubsub_service_agent" {
  description = "IAM member of the project's Pub/Sub service agent (acknowledges dead-lettered messages)."
  type        = string
  default     = null
}

variable "delivery" {
  description = "Push subscription delivery: attempts before dead-lettering, retry backoff, retention of unacked messages."
  type = object({
    max_delivery_attempts      = number
    minimum_backoff            = string
    maximum_backoff            = string
    message_retention_duration = string
  })
  default = {
    max_delivery_attempts      = 5
    minimum_backoff            = "10s"
    maximum_backoff            = "600s"
    message_retention_duration = "604800s"
  }

  validation {
    condition     = var.delivery.max_delivery_attempts >= 5 && var.delivery.max_delivery_attempts <= 100
    error_message = "Pub/Sub accepts 5 to 100 delivery attempts."
  }
}

variable "http_ingress" {
  description = "Ingress of an HTTP function: ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  type        = string
  default     = "ALLOW_ALL"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.http_ingress)
    error_message = "http_ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "http_invokers" {
  description = "IAM members allowed to call an HTTP function (e.g. group:ops@example.com; allUsers makes it public)."
  type        = list(string)
  default     = []
}

variable "vpc_connector" {
  description = "Serverless VPC Access connector ID for reaching private addresses (the AutoML service); null for none."
  type        = string
  default     = null
}

variable "memory" {
  description = "Memory of one instance, e.g. 256Mi."
  type        = string
  default     = "256Mi"
}

variable "timeout_seconds" {
  description = "Request timeout; also the push subscription's ack deadline (at most 600)."
  type        = number
  default     = 120
}

variable "min_instances" {
  description = "Instances kept warm (each one is billed while idle)."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Upper bound on instances, which also bounds the cost of a message storm."
  type        = number
  default     = 5
}

variable "labels" {
  description = "Labels put on the function and its subscription."
  type        = map(string)
  default     = {}
}

variable "reads_buckets" {
  description = "Buckets whose objects the function reads (roles/storage.objectViewer on each), keyed by a name known at plan time."
  type        = map(string)
  default     = {}
}
