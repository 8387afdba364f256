"""Self-hosted AutoML Vision v1 service (image object detection, edge models) over gRPC and REST.

`edgetrain serve` runs it; `edgetrain_service.process.ServiceProcess` starts one for tests and the
local stack.
"""
