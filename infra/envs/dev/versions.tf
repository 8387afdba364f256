terraform {
  required_version = ">= 1.9" # validations that refer to other variables (zone)

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.40"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.40"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }
}

# Only for Vertex AI's service agent (modules/vertex_ai), which the GA provider cannot create.
provider "google-beta" {
  project = var.project_id
  region  = var.region
}

provider "google" {
  project = var.project_id
  region  = var.region

  # Every resource carries these, so billing reports can be filtered by deployment.
  default_labels = {
    app = "edgetrain"
    env = var.environment
  }
}
