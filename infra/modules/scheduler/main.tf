# The poll tick: Cloud Scheduler publishes to the poll topic on a schedule; poll_operations does the rest.
# Overlapping ticks are safe (the poller is idempotent), so a late tick is not worth retrying.

resource "google_cloud_scheduler_job" "poll" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name_prefix}-poll-tick"
  description = "Publishes a poll tick for poll_operations."
  schedule    = var.schedule
  time_zone   = var.time_zone
  paused      = var.paused

  pubsub_target {
    topic_name = var.topic_id
    data       = base64encode(var.message)
  }

  retry_config {
    retry_count = 0
  }
}
