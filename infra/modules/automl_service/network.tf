# A private network for the service: no external IPs. The functions reach it through the Serverless VPC
# Access connector; the VM reaches Google APIs by Private Google Access and the package mirrors by Cloud NAT.

resource "google_compute_network" "this" {
  project                 = var.project_id
  name                    = "${var.name_prefix}-net"
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"
}

resource "google_compute_subnetwork" "this" {
  project                  = var.project_id
  name                     = "${var.name_prefix}-subnet"
  region                   = var.region
  network                  = google_compute_network.this.id
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.1 # enough to debug reachability without paying for every packet
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_vpc_access_connector" "this" {
  project       = var.project_id
  name          = "${var.name_prefix}-conn"
  region        = var.region
  network       = google_compute_network.this.name
  ip_cidr_range = var.connector_cidr
  machine_type  = "e2-micro"
  min_instances = 2 # the smallest connector Google allows
  max_instances = 3
}

resource "google_compute_router" "this" {
  project = var.project_id
  name    = "${var.name_prefix}-router"
  region  = var.region
  network = google_compute_network.this.id
}

resource "google_compute_router_nat" "this" {
  project                            = var.project_id
  name                               = "${var.name_prefix}-nat"
  router                             = google_compute_router.this.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# The functions (through the connector) may call the service's gRPC and REST ports, nothing else.
resource "google_compute_firewall" "service_from_connector" {
  project       = var.project_id
  name          = "${var.name_prefix}-allow-automl-from-connector"
  network       = google_compute_network.this.id
  direction     = "INGRESS"
  source_ranges = [var.connector_cidr]
  target_tags   = [local.network_tag]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.grpc_port), tostring(var.rest_port)]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Administration over SSH only through Identity-Aware Proxy TCP forwarding (Google's fixed range).
resource "google_compute_firewall" "ssh_from_iap" {
  project       = var.project_id
  name          = "${var.name_prefix}-allow-ssh-from-iap"
  network       = google_compute_network.this.id
  direction     = "INGRESS"
  source_ranges = ["35.235.240.0/20"]
  target_tags   = [local.network_tag]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_address" "service" {
  project      = var.project_id
  name         = "${var.name_prefix}-automl"
  region       = var.region
  subnetwork   = google_compute_subnetwork.this.id
  address_type = "INTERNAL"
  address      = cidrhost(var.subnet_cidr, 10)
}
