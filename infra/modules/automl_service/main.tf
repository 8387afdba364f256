# The self-hosted AutoML Vision v1 service (`edgetrain serve`) on one VM: Google's own v1 endpoint no longer
# serves vision, so this is what the functions call. One VM, because the service keeps its state (SQLite,
# datasets, models) on a disk of its own; that disk outlives the VM, so replacing the VM loses nothing.
# gs://BUCKET/PATH in import CSVs and export destinations resolve to STORAGE_ROOT/BUCKET/PATH, where gcsfuse
# mounts every bucket the service account can read.

locals {
  # A GPU VM: the accelerator, the machine family that carries it, and the edgetrain extra with CUDA
  # TensorFlow (pyproject.toml's gpu extra; ml is the CPU build).
  gpus = {
    nvidia-l4 = { accelerator = "nvidia-l4", machine_type = "g2-standard-8" }
  }
  gpu          = var.gpu == null ? null : local.gpus[var.gpu]
  machine_type = local.gpu == null ? var.machine_type : local.gpu.machine_type
  extra        = local.gpu == null ? "ml" : "gpu"
  network_tag  = "${var.name_prefix}-automl"
  data_device  = "edgetrain-data"
  data_dir     = "/var/lib/edgetrain"
  storage_root = "/mnt/gcs"
  wheel_name   = basename(var.wheel_path)
}

resource "google_service_account" "service" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-automl"
  display_name = "Runs the self-hosted AutoML service (edgetrain serve)"
}

# Holds the edgetrain wheel the VM installs; the object name carries the wheel's hash.
resource "google_storage_bucket" "service" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-automl-service"
  location                    = var.region
  force_destroy               = true # only build outputs that Terraform uploads again
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  logging {
    log_bucket        = var.access_log_bucket
    log_object_prefix = "automl-service"
  }
}

resource "google_storage_bucket_object" "wheel" {
  bucket = google_storage_bucket.service.name
  name   = "wheels/${filesha256(var.wheel_path)}/${local.wheel_name}"
  source = var.wheel_path
}

resource "google_compute_disk" "data" {
  #checkov:skip=CKV_GCP_37:Google-managed encryption at rest; a CSEK would have to be supplied at every boot
  project = var.project_id
  name    = "${var.name_prefix}-automl-data"
  zone    = var.zone
  type    = "pd-balanced"
  size    = var.data_disk_gb
  labels  = var.labels
}

# Daily snapshots of the service's state: a deleted or corrupted disk costs at most a day of bookkeeping.
resource "google_compute_resource_policy" "data_snapshots" {
  project = var.project_id
  name    = "${var.name_prefix}-automl-data-daily"
  region  = var.region

  snapshot_schedule_policy {
    schedule {
      daily_schedule {
        days_in_cycle = 1
        start_time    = "03:00"
      }
    }
    retention_policy {
      max_retention_days    = var.snapshot_retention_days
      on_source_disk_delete = "KEEP_AUTO_SNAPSHOTS"
    }
  }
}

resource "google_compute_disk_resource_policy_attachment" "data_snapshots" {
  project = var.project_id
  name    = google_compute_resource_policy.data_snapshots.name
  disk    = google_compute_disk.data.name
  zone    = var.zone
}

resource "google_compute_instance" "service" {
  #checkov:skip=CKV_GCP_38:Google-managed encryption at rest; a CSEK would have to be supplied at every boot
  project                   = var.project_id
  name                      = "${var.name_prefix}-automl"
  zone                      = var.zone
  machine_type              = local.machine_type
  desired_status            = var.running ? "RUNNING" : "TERMINATED"
  allow_stopping_for_update = true
  tags                      = [local.network_tag]
  labels                    = var.labels

  boot_disk {
    initialize_params {
      image = var.image
      size  = 30
      type  = "pd-balanced"
    }
  }

  attached_disk {
    source      = google_compute_disk.data.self_link
    device_name = local.data_device
  }

  dynamic "guest_accelerator" {
    for_each = local.gpu == null ? [] : [local.gpu]
    content {
      type  = guest_accelerator.value.accelerator
      count = 1
    }
  }

  # A VM with a GPU cannot live-migrate: it stops for host maintenance and starts again on its own.
  scheduling {
    on_host_maintenance = local.gpu == null ? "MIGRATE" : "TERMINATE"
    automatic_restart   = true
  }

  network_interface {
    subnetwork = google_compute_subnetwork.this.id
    network_ip = google_compute_address.service.address
    # no access_config: no external IP
  }

  service_account {
    email  = google_service_account.service.email
    scopes = ["cloud-platform"] # what the account may do is decided by its IAM roles (iam.tf)
  }

  # Secure Boot only without a GPU: Google's GPU installer builds an unsigned NVIDIA driver, which a Secure
  # Boot kernel refuses to load (signing it needs a key enrolled in a custom image). vTPM and integrity
  # monitoring stay on either way.
  shielded_instance_config {
    enable_secure_boot          = local.gpu == null
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  metadata = {
    block-project-ssh-keys = "true"
    enable-oslogin         = "TRUE"
    serial-port-enable     = "false"
  }

  # A new wheel or setting replaces the VM: the next boot installs it. The data disk is reattached.
  metadata_startup_script = templatefile("${path.module}/startup.sh.tftpl", {
    project_id   = var.project_id
    data_device  = local.data_device
    data_dir     = local.data_dir
    storage_root = local.storage_root
    wheel_uri    = "gs://${google_storage_bucket.service.name}/${google_storage_bucket_object.wheel.name}"
    wheel_name   = local.wheel_name
    extra        = local.extra
    gpu          = local.gpu != null
    token_secret = var.token_secret_id
    grpc_port    = var.grpc_port
    rest_port    = var.rest_port
    workers      = var.workers
    progress_uri = "gs://${var.exports_bucket}/training-progress/"
  })

  depends_on = [
    google_secret_manager_secret_iam_member.service_reads_token,
    google_storage_bucket_iam_member.service_reads_wheel,
    google_compute_router_nat.this,
  ]
}
