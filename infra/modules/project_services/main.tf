# The Google APIs the pipeline needs, enabled once per project.
resource "google_project_service" "this" {
  for_each = toset(var.services)

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false # other workloads in the project may rely on the same APIs
}
