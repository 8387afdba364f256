output "job" {
  description = "Full name of the Cloud Scheduler job."
  value       = google_cloud_scheduler_job.poll.id
}
