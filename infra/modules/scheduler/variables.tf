variable "project_id" {
  description = "Google Cloud project of the job."
  type        = string
}

variable "region" {
  description = "Region of the job (a Cloud Scheduler location)."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name of this deployment."
  type        = string
}

variable "schedule" {
  description = "When to publish a tick, in cron syntax (e.g. \"* * * * *\" = every minute)."
  type        = string
}

variable "time_zone" {
  description = "Time zone of the schedule (tz database name)."
  type        = string
  default     = "Etc/UTC"
}

variable "topic_id" {
  description = "ID of the poll topic (projects/P/topics/NAME)."
  type        = string
}

variable "message" {
  description = "Body of each tick message."
  type        = string
  default     = "{}"
}

variable "paused" {
  description = "Create the job paused (no ticks, no polling)."
  type        = bool
  default     = false
}
