variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the functions, topics' consumers, buckets, scheduler and AutoML service."
  type        = string
  default     = "us-central1"
}

variable "zone" {
  description = "Zone of the AutoML service VM, inside region; null means REGION-b."
  type        = string
  default     = null

  validation {
    # coalesce: Terraform evaluates both sides of ||, and startswith refuses null
    condition     = var.zone == null || startswith(coalesce(var.zone, "-"), "${var.region}-")
    error_message = "A zone of region, e.g. us-central1-a for us-central1."
  }
}

variable "environment" {
  description = "Name of this environment, put on every resource as the env label."
  type        = string
  default     = "dev"
}

variable "name_prefix" {
  description = "Prefix of every resource name. The topic names are PREFIX-import-requests etc., as in functions/edgetrain_pipeline/topics.py when it is \"edgetrain\"."
  type        = string
  default     = "edgetrain"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,13}[a-z0-9]$", var.name_prefix))
    error_message = "3-15 lowercase letters, digits or hyphens (service account IDs are limited to 30 characters)."
  }
}

variable "poll_schedule" {
  description = "Cron schedule of the poll tick that makes poll_operations check the running trainings."
  type        = string
  default     = "* * * * *"
}

variable "training_backend" {
  description = "Who trains the models: \"automl-v1\" (the self-hosted AutoML Vision v1 service on a VM, or automl_endpoint) or \"vertex-ai\" (Google's managed Vertex AI AutoML, billed per node hour: no VM, no VPC connector). See docs/backends.md."
  type        = string
  default     = "automl-v1"

  validation {
    condition     = contains(["automl-v1", "vertex-ai"], var.training_backend)
    error_message = "One of automl-v1, vertex-ai."
  }
}

variable "automl_endpoint" {
  description = "With automl-v1: host:port of an existing AutoML v1 service (insecure gRPC). null deploys the self-hosted service on a VM."
  type        = string
  default     = null
}

variable "automl_token_secret_id" {
  description = "With automl_endpoint: Secret Manager secret holding the bearer token it expects (null: none)."
  type        = string
  default     = null
}

variable "vpc_connector" {
  description = "With automl_endpoint: Serverless VPC Access connector ID the functions reach it through (null: none)."
  type        = string
  default     = null
}

variable "automl_location" {
  description = "Location in the training resource names (projects/P/locations/L/...); with vertex-ai, the Vertex AI region (e.g. us-central1)."
  type        = string
  default     = "us-central1"
}

variable "automl_machine_type" {
  description = "Machine type of the self-hosted service VM; its vCPUs are what trains the models."
  type        = string
  default     = "e2-standard-4"
}

variable "automl_vm_gpu" {
  description = "GPU of the self-hosted service VM: null (CPUs only, automl_machine_type) or \"nvidia-l4\" (one L4 on a g2-standard-8; the VM installs the NVIDIA driver and CUDA TensorFlow)."
  type        = string
  default     = null

  validation {
    condition     = var.automl_vm_gpu == null ? true : contains(["nvidia-l4"], var.automl_vm_gpu)
    error_message = "null or nvidia-l4."
  }
}

variable "automl_workers" {
  description = "Trainings the self-hosted service runs at once."
  type        = number
  default     = 1

  validation {
    condition     = var.automl_workers >= 1 && floor(var.automl_workers) == var.automl_workers
    error_message = "A whole number, 1 or more (edgetrain serve --workers)."
  }
}

variable "automl_running" {
  description = "Keep the self-hosted service VM running; false stops it to save its compute cost (and pauses the poll tick)."
  type        = bool
  default     = true
}

variable "edgetrain_wheel" {
  description = "Path of the edgetrain wheel the service VM installs, built with `pip wheel --no-deps -w dist .`."
  type        = string
  default     = "../../../dist/edgetrain-0.1.0-py3-none-any.whl"
}

variable "default_model_type" {
  description = "Model type of trainings whose request names none."
  type        = string
  default     = "mobile-versatile-1"

  validation {
    condition     = contains(["mobile-low-latency-1", "mobile-versatile-1", "mobile-high-accuracy-1"], var.default_model_type)
    error_message = "One of mobile-low-latency-1, mobile-versatile-1, mobile-high-accuracy-1."
  }
}

variable "default_budget_milli_node_hours" {
  description = "Training budget of requests that name none (1,000 = one node hour)."
  type        = number
  default     = 24000

  validation {
    condition     = var.default_budget_milli_node_hours >= 1000 && var.default_budget_milli_node_hours <= 100000 && floor(var.default_budget_milli_node_hours) == var.default_budget_milli_node_hours
    error_message = "AutoML accepts 1,000 to 100,000 milli node hours, a whole number."
  }
}

variable "retrain_from_champion" {
  description = "Start each training from the weights of the dataset's champion when it has the training's model type (warm start); false trains every model from the backend's own starting point."
  type        = bool
  default     = true
}

variable "champion_min_improvement" {
  description = "Promotion rule: how much the challenger's CHAMPION_METRIC must beat the champion's on the same TEST images (a tie never promotes)."
  type        = number
  default     = 0.005

  validation {
    condition     = var.champion_min_improvement >= 0 && var.champion_min_improvement <= 1
    error_message = "A metric difference, 0 to 1."
  }
}

variable "max_label_ap_drop" {
  description = "Promotion rule: the largest fall of one label's AP@0.5 (challenger vs champion on the same TEST images) a promotion allows."
  type        = number
  default     = 0.02

  validation {
    condition     = var.max_label_ap_drop >= 0 && var.max_label_ap_drop <= 1
    error_message = "An AP difference, 0 to 1."
  }
}

variable "max_latency_increase_ms" {
  description = "Promotion rule: the largest rise of int8 TF Lite latency (ms, challenger vs champion timed by the service) a promotion allows."
  type        = number
  default     = 2.0

  validation {
    condition     = var.max_latency_increase_ms >= 0
    error_message = "Milliseconds, 0 or more."
  }
}

variable "pipeline_settings" {
  description = "More environment settings of the functions (see functions/edgetrain_pipeline/config.py), e.g. { MIN_NEW_EXAMPLES = \"50\" }. Not the names main.tf sets itself (its variables set those)."
  type        = map(string)
  default     = {}

  validation {
    # What main.tf sets: local.topics, local.function_env, local.backend_env and the secret env vars (tests/infra
    # keeps this list equal to main.tf). A secret's name would make Cloud Run refuse the revision; the others
    # would be overridden silently.
    condition = length(setintersection(keys(var.pipeline_settings), [
      "TOPIC_IMPORT_REQUESTS", "TOPIC_DATASET_IMPORTED", "TOPIC_POLL_TICK", "TOPIC_TRAINING_FINISHED", "TOPIC_NOTIFICATIONS",
      "GOOGLE_CLOUD_PROJECT", "AUTOML_LOCATION", "DEFAULT_MODEL_TYPE", "DEFAULT_BUDGET_MILLI_NODE_HOURS",
      "CHAMPION_MIN_IMPROVEMENT", "MAX_LABEL_AP_DROP", "MAX_LATENCY_INCREASE_MS", "RETRAIN_FROM_CHAMPION",
      "EXPORT_URI_PREFIX", "TRAINING_PROGRESS_URI_PREFIX", "TRAINING_BACKEND", "AUTOML_ENDPOINT",
      "AUTOML_TOKEN", "CSRF_SECRET",
    ])) == 0
    error_message = "Set these through their own variables, not pipeline_settings: TOPIC_*, GOOGLE_CLOUD_PROJECT, AUTOML_LOCATION, DEFAULT_MODEL_TYPE, DEFAULT_BUDGET_MILLI_NODE_HOURS, CHAMPION_MIN_IMPROVEMENT, MAX_LABEL_AP_DROP, MAX_LATENCY_INCREASE_MS, RETRAIN_FROM_CHAMPION, EXPORT_URI_PREFIX, TRAINING_PROGRESS_URI_PREFIX, TRAINING_BACKEND, AUTOML_ENDPOINT, AUTOML_TOKEN, CSRF_SECRET."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of a message before it goes to its dead-letter topic (7-100 with the default CREATE_LEASE_S). At least 60 s apart: (attempts - 1) x 60 s must pass CREATE_LEASE_S (300 s), or a claim left by a delivery that died is never taken over."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "Pub/Sub accepts 5 to 100 delivery attempts."
  }

  validation {
    # Deliveries come at least 60 s apart (main.tf's minimum_backoff); the last must come after the claim lease
    # start_training waits out: CREATE_LEASE_S, config.py's 300 s unless pipeline_settings sets it.
    condition     = (var.max_delivery_attempts - 1) * 60 > tonumber(lookup(var.pipeline_settings, "CREATE_LEASE_S", "300"))
    error_message = "(max_delivery_attempts - 1) x 60 s must exceed CREATE_LEASE_S (300 s unless pipeline_settings sets it): raise the attempts."
  }
}

variable "function_max_instances" {
  description = "Upper bound on instances of each function."
  type        = number
  default     = 5
}

variable "status_page_invokers" {
  description = "IAM members allowed to open the status page, e.g. [\"group:ml-team@example.com\"]."
  type        = list(string)
  default     = []
}

variable "status_page_public" {
  description = "Let anyone on the internet open the status page and submit its form (allUsers). Off by default."
  type        = bool
  default     = false
}

variable "notification_push_endpoints" {
  description = "Webhooks that receive every notification: short name => HTTPS URL."
  type        = map(string)
  default     = {}
}

variable "firestore_location" {
  description = "Firestore location (cannot change later); null means the region."
  type        = string
  default     = null
}

variable "force_destroy_buckets" {
  description = "Let `terraform destroy` delete the imports and exports buckets with their objects."
  type        = bool
  default     = false
}

variable "alert_emails" {
  description = "Email addresses alerted when a message is dead-lettered."
  type        = list(string)
  default     = []
}
