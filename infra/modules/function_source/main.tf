# One zip of functions/ shared by every function, uploaded under a name that carries a hash of the source
# files: the functions are rebuilt when the code changes and only then.

locals {
  source_files = sort([
    for f in fileset(var.source_dir, "**") : f
    if !strcontains(f, "__pycache__") && !endswith(f, ".pyc")
  ])
  source_hash = sha256(join("", [for f in local.source_files : "${f}:${filesha256("${var.source_dir}/${f}")}"]))
}

data "archive_file" "functions" {
  type        = "zip"
  source_dir  = var.source_dir
  output_path = "${path.root}/.build/functions-${substr(local.source_hash, 0, 16)}.zip"
  excludes    = ["**/__pycache__/**", "**/*.pyc"]
}

resource "google_storage_bucket" "sources" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-function-sources"
  location                    = var.location
  force_destroy               = true # nothing here that Terraform cannot upload again
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  logging {
    log_bucket        = var.access_log_bucket
    log_object_prefix = "function-sources"
  }
}

resource "google_storage_bucket_object" "functions" {
  name   = "functions-${local.source_hash}.zip"
  bucket = google_storage_bucket.sources.name
  source = data.archive_file.functions.output_path
}

# Cloud Build runs the functions' builds as this account instead of the default compute service account.
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-fn-build"
  display_name = "Builds the ${var.name_prefix} Cloud Functions"
}
