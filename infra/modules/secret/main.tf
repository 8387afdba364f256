# A random secret in Secret Manager (the AutoML service's bearer token, the status page's CSRF key).
# The value also sits in the Terraform state: keep the state bucket as private as the secret.

resource "random_password" "this" {
  length  = var.length
  special = false # goes into HTTP headers and env files unquoted
}

resource "google_secret_manager_secret" "this" {
  project   = var.project_id
  secret_id = var.secret_id
  labels    = var.labels

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }
}

resource "google_secret_manager_secret_version" "this" {
  secret      = google_secret_manager_secret.this.id
  secret_data = random_password.this.result
}
