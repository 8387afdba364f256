# edgetrain's event pipeline in one Google Cloud project: this file only composes the modules.
#   terraform init -backend-config="bucket=STATE_BUCKET" -backend-config="prefix=edgetrain/dev"
# See "Deploy to Google Cloud" in README.md for the whole procedure.

terraform {
  backend "gcs" {}
}

locals {
  # The topic contract of functions/edgetrain_pipeline/topics.py: environment variable => topic name.
  # Each name is also set on every function under that variable. tests/infra checks the two agree.
  topics = {
    TOPIC_IMPORT_REQUESTS   = "${var.name_prefix}-import-requests"
    TOPIC_DATASET_IMPORTED  = "${var.name_prefix}-dataset-imported"
    TOPIC_POLL_TICK         = "${var.name_prefix}-poll-tick"
    TOPIC_TRAINING_FINISHED = "${var.name_prefix}-training-finished"
    TOPIC_NOTIFICATIONS     = "${var.name_prefix}-notifications"
  }

  # One entry per entry point of functions/main.py. trigger: the topic (by its variable) whose messages
  # call it, null for HTTP. publishes: the topics its code may publish to (tests/infra derives both from
  # the code). automl: it reaches the training backend over the network (automl-v1: VPC connector and
  # token). backend_role: it needs the backend's project roles (vertex-ai: the Vertex role below); only
  # functions whose calls reach the backend's API. secrets: env var => secret ID. reads_exports: it reads
  # the exports bucket (the poll: learning curves; the status page: the exported packages' diagnostics and
  # sample pictures).
  functions = {
    import_dataset = {
      trigger = "TOPIC_IMPORT_REQUESTS", publishes = ["TOPIC_DATASET_IMPORTED"], automl = true, backend_role = true
      secrets = {}
      roles   = ["roles/datastore.user"], sa = "fn-import", timeout = 120, memory = "256Mi", reads_exports = false
    }
    start_training = {
      trigger = "TOPIC_DATASET_IMPORTED", publishes = ["TOPIC_DATASET_IMPORTED", "TOPIC_TRAINING_FINISHED"]
      automl  = true, backend_role = true, secrets = {}
      roles   = ["roles/datastore.user"], sa = "fn-train", timeout = 120, memory = "256Mi", reads_exports = false
    }
    poll_operations = {
      # The poller also re-publishes every message another function left in the Firestore outbox.
      trigger   = "TOPIC_POLL_TICK", automl = true, backend_role = true, secrets = {}
      publishes = ["TOPIC_DATASET_IMPORTED", "TOPIC_TRAINING_FINISHED", "TOPIC_NOTIFICATIONS"]
      roles     = ["roles/datastore.user"], sa = "fn-poll", timeout = 300, memory = "512Mi", reads_exports = true
    }
    export_and_notify = {
      trigger = "TOPIC_TRAINING_FINISHED", publishes = ["TOPIC_NOTIFICATIONS"], automl = true, backend_role = true
      secrets = {}
      roles   = ["roles/datastore.user"], sa = "fn-export", timeout = 300, memory = "256Mi", reads_exports = false
    }
    status_page = {
      # automl: "Try an image" asks the backend's Predict (automl-v1: through the connector, with the token).
      # No backend role: Vertex AI's Predict is refused in the gateway without an API call, and this is the
      # one function that can face the internet (status_page_public).
      trigger = null, publishes = ["TOPIC_DATASET_IMPORTED"], automl = true, backend_role = false
      secrets = { CSRF_SECRET = module.csrf_secret.secret_id }
      roles   = ["roles/datastore.viewer"], sa = "fn-status", timeout = 60, memory = "256Mi", reads_exports = true
    }
  }

  # Composite indexes of the queries that filter on one field and sort on another (single-field indexes
  # are automatic). The emulator does not need them; Firestore does.
  firestore_indexes = {
    trainings_by_dataset = {
      collection = "trainings"
      fields = [
        { field_path = "datasetId", order = "ASCENDING" },
        { field_path = "createdAt", order = "DESCENDING" },
      ]
    }
    trainings_by_state = {
      collection = "trainings"
      fields = [
        { field_path = "state", order = "ASCENDING" },
        { field_path = "createdAt", order = "DESCENDING" },
      ]
    }
  }

  # training_backend: automl-v1 calls an AutoML Vision v1 service (the VM below unless automl_endpoint names
  # one) through the VPC connector; vertex-ai calls Google's Vertex AI API: no VM, no connector, no token.
  vertex              = var.training_backend == "vertex-ai"
  self_hosted_automl  = !local.vertex && var.automl_endpoint == null
  automl_endpoint     = local.vertex ? null : (local.self_hosted_automl ? module.automl_service[0].grpc_endpoint : var.automl_endpoint)
  vpc_connector       = local.vertex ? null : (local.self_hosted_automl ? module.automl_service[0].vpc_connector : var.vpc_connector)
  automl_token_secret = local.vertex ? null : (local.self_hosted_automl ? module.automl_token[0].secret_id : var.automl_token_secret_id)

  # The settings each backend needs on the functions that call it (config.py reads them), by backend.
  backend_env = {
    "automl-v1" = { TRAINING_BACKEND = "automl-v1", AUTOML_ENDPOINT = local.automl_endpoint }
    "vertex-ai" = { TRAINING_BACKEND = "vertex-ai" }
  }

  # Project roles of the functions that call the backend's API (backend_role above), by backend. Vertex AI
  # User is the narrowest predefined role that covers every call the Vertex gateway makes (datasets
  # get/import, trainingPipelines create/get/list, models get/list/export/delete, modelEvaluations and their
  # slices list, operations get); Vertex AI Viewer cannot create or import anything. automl-v1 needs none:
  # its service authenticates with the token.
  backend_roles = {
    "automl-v1" = []
    "vertex-ai" = ["roles/aiplatform.user"]
  }

  # Settings read by functions/edgetrain_pipeline/config.py. Every function also gets local.topics and its
  # backend's local.backend_env, and var.pipeline_settings underneath (merged first, so it cannot override
  # the topics or these).
  function_env = {
    GOOGLE_CLOUD_PROJECT            = var.project_id
    AUTOML_LOCATION                 = var.automl_location
    DEFAULT_MODEL_TYPE              = var.default_model_type
    DEFAULT_BUDGET_MILLI_NODE_HOURS = tostring(var.default_budget_milli_node_hours)
    CHAMPION_MIN_IMPROVEMENT        = tostring(var.champion_min_improvement)
    MAX_LABEL_AP_DROP               = tostring(var.max_label_ap_drop)
    MAX_LATENCY_INCREASE_MS         = tostring(var.max_latency_increase_ms)
    RETRAIN_FROM_CHAMPION           = tostring(var.retrain_from_champion)
    EXPORT_URI_PREFIX               = "gs://${module.storage.exports_bucket}/model-export/"
    # where edgetrain serve writes running trainings' learning curves (its --progress-uri-prefix)
    TRAINING_PROGRESS_URI_PREFIX = "gs://${module.storage.exports_bucket}/training-progress/"
  }

  delivery = {
    max_delivery_attempts = var.max_delivery_attempts
    # At least 60 s between deliveries: 10 attempts (the default) span at least 9 x 60 s, past the 300 s
    # claim lease start_training waits out (CREATE_LEASE_S), and, as the backoff grows toward 600 s, past a
    # VM restart (tests/infra checks the first).
    minimum_backoff            = "60s"
    maximum_backoff            = "600s"
    message_retention_duration = "604800s"
  }
}

module "project_services" {
  source     = "../../modules/project_services"
  project_id = var.project_id
  services = concat([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iap.googleapis.com", # SSH to the service VM through IAP (no external IP)
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
    "vpcaccess.googleapis.com",
  ], local.vertex ? ["aiplatform.googleapis.com"] : [])
}

module "storage" {
  source        = "../../modules/storage"
  project_id    = var.project_id
  location      = var.region
  name_prefix   = var.name_prefix
  force_destroy = var.force_destroy_buckets
  depends_on    = [module.project_services]
}

module "firestore" {
  source            = "../../modules/firestore"
  project_id        = var.project_id
  location          = coalesce(var.firestore_location, var.region)
  composite_indexes = local.firestore_indexes
  depends_on        = [module.project_services]
}

module "pubsub" {
  source                      = "../../modules/pubsub"
  project_id                  = var.project_id
  name_prefix                 = var.name_prefix
  topics                      = local.topics
  notification_push_endpoints = var.notification_push_endpoints
  delivery                    = local.delivery
  depends_on                  = [module.project_services]
}

module "automl_token" {
  source     = "../../modules/secret"
  count      = local.self_hosted_automl ? 1 : 0
  project_id = var.project_id
  region     = var.region
  secret_id  = "${var.name_prefix}-automl-token"
  depends_on = [module.project_services]
}

module "csrf_secret" {
  source     = "../../modules/secret"
  project_id = var.project_id
  region     = var.region
  secret_id  = "${var.name_prefix}-status-page-csrf"
  depends_on = [module.project_services]
}

module "automl_service" {
  source            = "../../modules/automl_service"
  count             = local.self_hosted_automl ? 1 : 0
  project_id        = var.project_id
  region            = var.region
  zone              = coalesce(var.zone, "${var.region}-b")
  name_prefix       = var.name_prefix
  machine_type      = var.automl_machine_type
  gpu               = var.automl_vm_gpu
  workers           = var.automl_workers
  running           = var.automl_running
  wheel_path        = var.edgetrain_wheel
  token_secret_id   = module.automl_token[0].secret_id
  imports_bucket    = module.storage.imports_bucket
  exports_bucket    = module.storage.exports_bucket
  access_log_bucket = module.storage.access_logs_bucket
  depends_on        = [module.project_services]
}

module "vertex_ai" {
  source         = "../../modules/vertex_ai"
  count          = local.vertex ? 1 : 0
  project_id     = var.project_id
  imports_bucket = module.storage.imports_bucket
  exports_bucket = module.storage.exports_bucket
  depends_on     = [module.project_services]
}

module "function_source" {
  source            = "../../modules/function_source"
  project_id        = var.project_id
  location          = var.region
  name_prefix       = var.name_prefix
  source_dir        = "${path.root}/../../../functions"
  access_log_bucket = module.storage.access_logs_bucket
  depends_on        = [module.project_services]
}

module "functions" {
  source   = "../../modules/cloudfunction"
  for_each = local.functions

  project_id               = var.project_id
  region                   = var.region
  name                     = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  entry_point              = each.key
  source_bucket            = module.function_source.bucket
  source_object            = module.function_source.object
  build_service_account_id = module.function_source.build_service_account_id
  service_account_id       = "${var.name_prefix}-${each.value.sa}"
  project_roles            = concat(each.value.roles, each.value.backend_role ? local.backend_roles[var.training_backend] : [])
  publishes_to             = { for t in each.value.publishes : local.topics[t] => module.pubsub.topic_ids[local.topics[t]] }
  environment_variables    = merge(var.pipeline_settings, local.topics, local.function_env, local.backend_env[var.training_backend])
  secret_environment_variables = merge(
    each.value.secrets,
    each.value.automl && local.automl_token_secret != null ? { AUTOML_TOKEN = local.automl_token_secret } : {},
  )
  reads_buckets   = each.value.reads_exports ? { exports = module.storage.exports_bucket } : {}
  vpc_connector   = each.value.automl ? local.vpc_connector : null
  timeout_seconds = each.value.timeout
  memory          = each.value.memory
  max_instances   = var.function_max_instances

  trigger_topic_id     = each.value.trigger == null ? null : module.pubsub.topic_ids[local.topics[each.value.trigger]]
  dead_letter_topic_id = each.value.trigger == null ? null : module.pubsub.dead_letter_topic_ids[local.topics[each.value.trigger]]
  push_invoker_email   = module.pubsub.push_invoker_email
  pubsub_service_agent = module.pubsub.pubsub_service_agent
  delivery             = local.delivery
  http_invokers        = var.status_page_public ? ["allUsers"] : var.status_page_invokers

  depends_on = [module.firestore]
}

module "alerts" {
  source                    = "../../modules/alerts"
  project_id                = var.project_id
  name_prefix               = var.name_prefix
  dead_letter_subscriptions = values(module.pubsub.dead_letter_subscriptions)
  alert_emails              = var.alert_emails
  depends_on                = [module.project_services]
}

module "scheduler" {
  source      = "../../modules/scheduler"
  project_id  = var.project_id
  region      = var.region
  name_prefix = var.name_prefix
  schedule    = var.poll_schedule
  topic_id    = module.pubsub.topic_ids[local.topics.TOPIC_POLL_TICK]
  # With the service VM stopped every tick would fail and end as a dead letter: stop ticking too (a
  # vertex-ai deployment has no VM, so it always ticks).
  paused     = local.self_hosted_automl && !var.automl_running
  depends_on = [module.project_services]
}
