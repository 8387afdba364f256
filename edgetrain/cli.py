"""The `edgetrain` console script: `train`, `serve` and `local-stack` subcommands.

Each subcommand's module registers its own arguments and runs; heavy imports happen only inside them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, help). The module defines add_arguments(parser) and run(args) -> int.
SUBCOMMANDS = {
    "train": ("edgetrain_trainer.cli", "train an edge detector from an AutoML CSV or VOC folder"),
    "serve": ("edgetrain_service.cli", "serve the AutoML Vision v1 API (gRPC and REST)"),
    "local-stack": ("edgetrain.localstack.cli", "run the whole pipeline locally on the emulators"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgetrain", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from edgetrain_service.cli import dump_stacks_on_crash

    dump_stacks_on_crash()
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
