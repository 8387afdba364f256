"""edgetrain: new labeled data in, a better TF Lite object detector out."""

__version__ = "0.1.0"
