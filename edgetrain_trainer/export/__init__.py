"""Export: Keras detector to TF Lite with the post-processing op, the AutoML-shaped package and its
metadata, and a TF Lite runner that reads packages back. Output folders are written staged (staging.py)."""
