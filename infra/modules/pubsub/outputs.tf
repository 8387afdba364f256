output "topic_ids" {
  description = "Topic name => topic ID (projects/P/topics/NAME)."
  # Built from configured attributes so that callers know the IDs at plan time (count/for_each need that).
  value = { for name, t in google_pubsub_topic.this : name => "projects/${t.project}/topics/${t.name}" }
}

output "dead_letter_topic_ids" {
  description = "Topic name => ID of its dead-letter topic."
  value       = { for name, t in google_pubsub_topic.dead_letter : name => "projects/${t.project}/topics/${t.name}" }
}

output "dead_letter_subscriptions" {
  description = "Topic name => the subscription that holds its dead letters for inspection or replay."
  value       = { for name, s in google_pubsub_subscription.dead_letter_hold : name => s.name }
}

output "notification_subscriptions" {
  description = "Names of the subscriptions that deliver notifications to subscribers."
  value = concat(
    [for s in google_pubsub_subscription.notifications_pull : s.name],
    [for s in google_pubsub_subscription.notifications_push : s.name],
  )
}

output "push_invoker_email" {
  description = "Service account whose OIDC token authenticates Pub/Sub push requests."
  value       = google_service_account.push_invoker.email
}

output "pubsub_service_agent" {
  description = "IAM member of the project's Pub/Sub service agent (needs subscriber on dead-lettering subscriptions)."
  value       = local.pubsub_service_agent
}
