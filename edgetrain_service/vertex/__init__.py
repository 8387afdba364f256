"""The Vertex AI v1 subset (DatasetService, PipelineService, ModelService and their operations) served beside
the AutoML v1 surface, on the same store, jobs and trainer. See docs/service.md, section "Vertex AI v1"."""
