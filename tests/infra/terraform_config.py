"""Read infra/ the way the structural tests need it: python-hcl2 over every .tf file of a folder.

No Terraform evaluation happens here (no provider registry offline): blocks come back as dicts with quotes
stripped, expressions as their "${...}" source text. `render` substitutes the variable defaults of an
environment in the plain interpolations the topic names use, and refuses anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False)
_VAR = re.compile(r"\$\{var\.([a-z0-9_]+)\}")


@dataclass
class TerraformFolder:
    """The merged top-level blocks of one module or environment folder."""

    path: Path
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # type -> name -> body
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # file name -> parsed content

    def resources_of(self, type_: str) -> dict[str, dict[str, Any]]:
        return self.resources.get(type_, {})

    def all_resources(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [(t, n, body) for t, named in self.resources.items() for n, body in named.items()]

    def variable_default(self, name: str) -> Any:
        if name not in self.variables or "default" not in self.variables[name]:
            raise KeyError(f"{self.path}: variable {name!r} has no default")
        return self.variables[name]["default"]

    def render(self, value: str) -> str:
        """A string whose only interpolations are ${var.X}, with each X replaced by its default."""
        rendered = _VAR.sub(lambda m: str(self.variable_default(m.group(1))), value)
        if "${" in rendered:
            raise ValueError(
                f"{self.path}: cannot render {value!r}: only ${{var.NAME}} interpolations are supported"
            )
        return rendered


def load_folder(path: Path) -> TerraformFolder:
    """Parse every *.tf file directly in `path` (not subfolders) into one TerraformFolder."""
    folder = TerraformFolder(path=path)
    tf_files = sorted(path.glob("*.tf"))
    if not tf_files:
        raise FileNotFoundError(f"no .tf files in {path}")
    for tf in tf_files:
        with tf.open() as handle:
            parsed = hcl2.load(handle, serialization_options=_OPTIONS)
        folder.files[tf.name] = parsed
        for block in parsed.get("resource", []):
            for type_, named in block.items():
                folder.resources.setdefault(type_, {}).update(named)
        for block in parsed.get("data", []):
            for type_, named in block.items():
                folder.data.setdefault(type_, {}).update(named)
        for block in parsed.get("module", []):
            folder.modules.update(block)
        for block in parsed.get("variable", []):
            folder.variables.update(block)
        for block in parsed.get("output", []):
            folder.outputs.update(block)
        for block in parsed.get("locals", []):
            folder.locals.update({k: v for k, v in block.items() if not k.startswith("__")})
        folder.terraform.extend(parsed.get("terraform", []))
        folder.providers.extend(parsed.get("provider", []))
    return folder


def module_folders(infra: Path) -> dict[str, TerraformFolder]:
    return {p.name: load_folder(p) for p in sorted((infra / "modules").iterdir()) if p.is_dir()}


def env_folders(infra: Path) -> dict[str, TerraformFolder]:
    return {p.name: load_folder(p) for p in sorted((infra / "envs").iterdir()) if p.is_dir()}


def single(block_list: Any) -> dict[str, Any]:
    """The one nested block of a block attribute (hcl2 returns nested blocks as lists)."""
    if not isinstance(block_list, list) or len(block_list) != 1:
        raise AssertionError(f"expected exactly one nested block, got {block_list!r}")
    return block_list[0]


def expression(value: Any) -> str:
    """The source text of a "${...}" expression, without the wrapper."""
    if not (isinstance(value, str) and value.startswith("${") and value.endswith("}")):
        raise AssertionError(f"expected an expression, got {value!r}")
    return value[2:-1]


def local_name(value: Any) -> str:
    """X of an expression that is exactly local.X."""
    text = expression(value)
    if not re.fullmatch(r"local\.[a-z0-9_]+", text):
        raise AssertionError(f"expected local.NAME, got {value!r}")
    return text.removeprefix("local.")
