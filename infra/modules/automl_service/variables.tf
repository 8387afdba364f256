variable "project_id" {
  description = "Google Cloud project of the service."
  type        = string
}

variable "region" {
  description = "Region of the network, connector and bucket (the functions' region)."
  type        = string
}

variable "zone" {
  description = "Zone of the VM and its data disk, inside region."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name of this deployment."
  type        = string
}

variable "machine_type" {
  description = "VM machine type. Training runs on its CPUs, so vCPUs buy training speed."
  type        = string
  default     = "e2-standard-4"
}

variable "gpu" {
  description = "null: train on the CPUs of machine_type. \"nvidia-l4\": one L4 GPU on a g2-standard-8 (machine_type is then ignored), the NVIDIA driver and CUDA TensorFlow installed at boot."
  type        = string
  default     = null

  validation {
    condition     = var.gpu == null ? true : contains(["nvidia-l4"], var.gpu)
    error_message = "null or nvidia-l4."
  }
}

variable "image" {
  description = "Boot image; the startup script expects Debian 12 (Python 3.11, gcloud preinstalled)."
  type        = string
  default     = "debian-cloud/debian-12"
}

variable "data_disk_gb" {
  description = "Size of the persistent disk holding the service's database, datasets and models."
  type        = number
  default     = 50
}

variable "snapshot_retention_days" {
  description = "Days the daily snapshots of the data disk are kept (they outlive the disk)."
  type        = number
  default     = 7
}

variable "workers" {
  description = "Trainings run at once (`edgetrain serve --workers`); more are queued."
  type        = number
  default     = 1
}

variable "running" {
  description = "Whether the VM runs. false stops it (no compute cost; disks are still billed); the functions' calls then fail and are retried."
  type        = bool
  default     = true
}

variable "wheel_path" {
  description = "Local path of the edgetrain wheel to install (`pip wheel --no-deps -w dist .` at the repository root)."
  type        = string
}

variable "token_secret_id" {
  description = "Secret Manager secret holding the bearer token clients must send."
  type        = string
}

variable "imports_bucket" {
  description = "Bucket of import CSVs and images (read)."
  type        = string
}

variable "exports_bucket" {
  description = "Bucket that model exports are written to (read/write)."
  type        = string
}

variable "access_log_bucket" {
  description = "Bucket receiving the service bucket's access logs."
  type        = string
}

variable "subnet_cidr" {
  description = "Range of the service's subnet; the VM gets its 10th address."
  type        = string
  default     = "10.10.0.0/24"
}

variable "connector_cidr" {
  description = "Unused /28 range for the Serverless VPC Access connector."
  type        = string
  default     = "10.8.0.0/28"
}

variable "grpc_port" {
  description = "Port of the service's gRPC API (what the functions use)."
  type        = number
  default     = 8600
}

variable "rest_port" {
  description = "Port of the service's REST API."
  type        = number
  default     = 8601
}

variable "labels" {
  description = "Labels put on the VM and its disk."
  type        = map(string)
  default     = {}
}
