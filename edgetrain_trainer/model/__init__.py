"""The detector: ImageNet backbones, the model-type catalog, anchors, box coding, the detection network,
its loss and the post-processing that turns its outputs into boxes."""
