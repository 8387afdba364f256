"""The project's own import graph: no cycles (function-local imports included), trainer modules small.

Imports are read with `ast`, not by importing, so an import inside a function counts as much as one at the
top; only `if TYPE_CHECKING:` blocks are left out (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# (folder on sys.path, package): the packages whose imports are walked together.
PACKAGES = [
    (ROOT, "edgetrain_trainer"),
    (ROOT, "edgetrain_service"),
    (ROOT, "edgetrain"),
    (ROOT / "functions", "edgetrain_pipeline"),
]
MAX_TRAINER_MODULE_LINES = 300


def modules_of(base: Path, package: str) -> dict[str, Path]:
    """Dotted module name → file, for every .py file of `package` under `base`."""
    found = {}
    for path in sorted((base / package).rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, outside `if TYPE_CHECKING:` blocks."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the modules of `modules` it imports (a `from package import name` of a submodule imports
    that submodule; of anything else, the package's own module)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base_parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                submodules = [f"{base}.{alias.name}" for alias in node.names]
                targets = [m if m in modules else base for m in submodules]
            for target in targets:
                # `import a.b.c` or an unlisted name: the deepest listed module it names
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def _all_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for base, package in PACKAGES:
        modules.update(modules_of(base, package))
    return modules


def test_the_project_has_no_import_cycle():
    modules = _all_modules()
    assert {"edgetrain_trainer.training.loop", "edgetrain_pipeline"} <= modules.keys()
    assert cycles(import_graph(modules)) == []


@pytest.mark.parametrize(
    "files, expected",
    [
        # a -> b at the top, b -> a inside a function: still a cycle
        (
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "from .b import f\n",
                "pkg/b.py": "def f():\n    from . import a\n",
            },
            [["pkg.a", "pkg.b"]],
        ),
        # the same through absolute imports and a subpackage
        (
            {
                "pkg/__init__.py": "",
                "pkg/sub/__init__.py": "",
                "pkg/sub/c.py": "import pkg.d\n",
                "pkg/d.py": "from pkg.sub import c\n",
            },
            [["pkg.d", "pkg.sub.c"]],
        ),
        # an import only for type checking does not run
        (
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "from .b import f\n",
                "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n",
            },
            [],
        ),
    ],
)
def test_cycles_are_found_through_local_and_absolute_imports(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cycles(import_graph(modules_of(tmp_path, "pkg"))) == expected


def test_every_trainer_module_is_small():
    long = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "edgetrain_trainer").rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_TRAINER_MODULE_LINES
    }
    assert long == {}


def test_the_training_loop_is_one_function_in_one_file():
    tree = ast.parse((ROOT / "edgetrain_trainer/training/loop.py").read_text())
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "run_stage" in functions
    # nothing else in the trainer loops over epochs
    others = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "edgetrain_trainer").rglob("*.py")
        if path.name != "loop.py" and "for epoch in" in path.read_text()
    ]
    assert others == []
