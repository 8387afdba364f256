"""Data: AutoML import CSVs and Pascal VOC folders read into validated examples, images decoded and
resized, and the training augmentation. Nothing here imports TensorFlow."""
