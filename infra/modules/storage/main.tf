# Buckets for labeled data coming in (imports) and models going out (exports), plus the access-log sink
# the other two write their usage logs to. All uniform access, never public, versioned.

locals {
  buckets = {
    imports = "${var.project_id}-${var.name_prefix}-imports"
    exports = "${var.project_id}-${var.name_prefix}-exports"
  }
}

resource "google_storage_bucket" "access_logs" {
  #checkov:skip=CKV_GCP_62:this is the access-log sink; logging it into itself would loop
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-access-logs"
  location                    = var.location
  force_destroy               = var.force_destroy
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = var.access_log_retention_days
    }
    action {
      type = "Delete"
    }
  }

  # Deleting a live log object only makes it noncurrent under versioning: remove those too.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 1
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket" "data" {
  for_each = local.buckets

  project                     = var.project_id
  name                        = each.value
  location                    = var.location
  force_destroy               = var.force_destroy
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true # exports must survive an overwrite; imports keep the CSV a training was built from
  }

  # Versioning keeps every overwritten object: drop old versions after a while to bound the cost.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  logging {
    log_bucket        = google_storage_bucket.access_logs.name
    log_object_prefix = each.key
  }
}
