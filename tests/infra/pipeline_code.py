"""What the Cloud Functions code says the deployment must provide, read from functions/ with `ast`.

Nothing is imported or executed: topic names would otherwise depend on the environment of the test run.
Each reader raises ValueError naming the file when the code takes a shape it does not understand, so a
refactoring of functions/ shows up here as a clear failure instead of a silently weaker check.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "edgetrain_pipeline"
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")


@dataclass(frozen=True)
class TopicContract:
    """functions/edgetrain_pipeline/topics.py, evaluated with no environment overrides."""

    defaults: dict[str, str]  # env var / constant name (TOPIC_X) -> default topic name
    pubsub_triggers: dict[str, str]  # entry point -> TOPIC_X
    http_functions: tuple[str, ...]
    published: tuple[str, ...]  # TOPIC_X names


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def entry_points(main_py: Path) -> dict[str, str]:
    """Entry point name -> "cloud_event" or "http", from the functions_framework decorators of main.py."""
    found: dict[str, str] = {}
    for node in _parse(main_py).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
            if name in ("cloud_event", "http"):
                if node.name in found:
                    raise ValueError(f"{main_py}: {node.name} is decorated twice")
                found[node.name] = name
    return found


def _is_environ_get(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "getenv":
        return True
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "get"
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "environ"
    )


def topic_contract(topics_py: Path) -> TopicContract:
    defaults: dict[str, str] = {}
    values: dict[str, ast.expr] = {}
    for node in _parse(topics_py).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value = node.targets[0].id, node.value
            values[name] = value
            if isinstance(value, ast.Call) and _is_environ_get(value):
                env, default = (ast.literal_eval(arg) for arg in value.args)
                if env != name:
                    raise ValueError(
                        f"{topics_py}: {name} is overridden by {env}, not by a variable of its own name"
                    )
                defaults[name] = default

    def names(expr: ast.expr, what: str) -> list[str]:
        elements = expr.elts if isinstance(expr, (ast.Tuple, ast.List)) else None
        if elements is None or not all(isinstance(e, ast.Name) and e.id in defaults for e in elements):
            raise ValueError(f"{topics_py}: {what} must be a tuple of TOPIC_ constants")
        return [e.id for e in elements]

    triggers_expr = values.get("PUBSUB_TRIGGERS")
    if not isinstance(triggers_expr, ast.Dict):
        raise ValueError(f"{topics_py}: PUBSUB_TRIGGERS must be a dict literal")
    triggers = {}
    for key, value in zip(triggers_expr.keys, triggers_expr.values, strict=True):
        if not (isinstance(value, ast.Name) and value.id in defaults):
            raise ValueError(f"{topics_py}: PUBSUB_TRIGGERS values must be TOPIC_ constants")
        triggers[ast.literal_eval(key)] = value.id
    return TopicContract(
        defaults=defaults,
        pubsub_triggers=triggers,
        http_functions=tuple(ast.literal_eval(values["HTTP_FUNCTIONS"])),
        published=tuple(names(values["PUBLISHED_TOPICS"], "PUBLISHED_TOPICS")),
    )


def env_vars_read(functions_dir: Path) -> set[str]:
    """Names of every environment variable the functions' code reads.

    Covers os.environ.get("X"), os.getenv("X"), os.environ["X"], helpers that pass their first parameter to
    os.environ.get (called with a literal name), and loops over literal names.
    """
    names: set[str] = set()
    for path in sorted(functions_dir.rglob("*.py")):
        tree = _parse(path)
        helpers = set()
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef) and fn.args.args:
                first = fn.args.args[0].arg
                for call in ast.walk(fn):
                    if isinstance(call, ast.Call) and _is_environ_get(call) and call.args:
                        if isinstance(call.args[0], ast.Name) and call.args[0].id == first:
                            helpers.add(fn.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                called = node.func.id if isinstance(node.func, ast.Name) else None
                if _is_environ_get(node) or called in helpers:
                    names.add(node.args[0].value)
            elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
                if node.value.attr == "environ" and isinstance(node.slice, ast.Constant):
                    names.add(node.slice.value)
            elif isinstance(node, ast.For) and isinstance(node.iter, (ast.Tuple, ast.List)):
                literals = [e.value for e in node.iter.elts if isinstance(e, ast.Constant)]
                if literals and all(isinstance(v, str) and _ENV_NAME.match(v) for v in literals):
                    names.update(literals)
    return {n for n in names if isinstance(n, str)}


# -- which topics each entry point's code can publish to -------------------------------------------------


def _module_path(functions_dir: Path, dotted: str) -> Path | None:
    base = functions_dir.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(functions_dir: Path, dotted: str) -> tuple[set[str], set[str]]:
    """(package modules `dotted` imports, TOPIC_ names it references through topics)."""
    path = _module_path(functions_dir, dotted)
    package_parts = dotted.split(".") if path.name == "__init__.py" else dotted.split(".")[:-1]
    modules, topic_names = set(), set()
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.ImportFrom):
            parts = package_parts[: len(package_parts) - node.level + 1] if node.level else []
            base = ".".join(parts + ([node.module] if node.module else []))
            if not base.startswith(PACKAGE):
                continue
            for alias in node.names:
                if _module_path(functions_dir, f"{base}.{alias.name}"):
                    modules.add(f"{base}.{alias.name}")
                else:
                    modules.add(base)
                    if base == f"{PACKAGE}.topics" and alias.name.startswith("TOPIC_"):
                        topic_names.add(alias.name)
        elif (
            isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "topics"
        ):
            if node.attr.startswith("TOPIC_"):
                topic_names.add(node.attr)
    return modules, topic_names


def _reachable(functions_dir: Path, entry_point: str) -> tuple[set[str], set[str]]:
    """(package modules the entry point's body reaches through imports, TOPIC_ names main.py itself uses)."""
    tree = _parse(functions_dir / "main.py")
    imported = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                imported[alias.asname or alias.name] = (
                    target if _module_path(functions_dir, target) else node.module
                )
    topics_module = f"{PACKAGE}.topics"
    local_functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    start, bodies, visited = set(), [local_functions[entry_point]], set()
    topic_names: set[str] = set()
    while bodies:  # the entry point's body and the main.py helpers it calls
        body = bodies.pop()
        visited.add(body.name)
        for node in ast.walk(body):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if imported.get(node.value.id) == topics_module and node.attr.startswith("TOPIC_"):
                    topic_names.add(node.attr)  # topics.TOPIC_X used in main.py itself
            if not isinstance(node, ast.Name):
                continue
            if imported.get(node.id) == topics_module and node.id.startswith("TOPIC_"):
                topic_names.add(node.id)  # from edgetrain_pipeline.topics import TOPIC_X
            elif node.id in imported:
                start.add(imported[node.id])
            elif node.id in local_functions and node.id not in visited:
                bodies.append(local_functions[node.id])
    seen: set[str] = set()
    stack = sorted(start)
    while stack:
        module = stack.pop()
        if module in seen or module == topics_module:
            continue
        seen.add(module)
        modules, _ = _imports(functions_dir, module)
        stack.extend(sorted(modules - seen))
    return seen, topic_names


def topics_reachable(functions_dir: Path, entry_point: str) -> set[str]:
    """TOPIC_ names referenced by any package module the entry point's body reaches through imports.

    Module granularity over-approximates (a module imported for one helper counts whole), which errs on
    the side of granting a publish right the code might use rather than missing one it does use.
    """
    modules, topic_names = _reachable(functions_dir, entry_point)
    for module in modules:
        topic_names |= _imports(functions_dir, module)[1]
    return topic_names


def calls_training_backend(functions_dir: Path, entry_point: str) -> bool:
    """Whether a module the entry point reaches uses the training backend (`deps.backend`, the gateway the
    backend setting picks): such a function needs the backend's network path, token or IAM role."""
    modules, _ = _reachable(functions_dir, entry_point)
    for module in modules:
        for node in ast.walk(_parse(_module_path(functions_dir, module))):
            if isinstance(node, ast.Attribute) and node.attr == "backend":
                if isinstance(node.value, ast.Name) and node.value.id == "deps":
                    return True
    return False


def backend_methods_called(functions_dir: Path, entry_point: str) -> set[str]:
    """Methods of the training backend that the modules the entry point reaches call: `deps.backend.M`, and
    `backend.M` on a name `backend` (where a module hands deps.backend on, as the status page's "Try an
    image" does)."""
    modules, _ = _reachable(functions_dir, entry_point)
    called: set[str] = set()
    for module in modules:
        for node in ast.walk(_parse(_module_path(functions_dir, module))):
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value
            if (
                isinstance(owner, ast.Attribute)
                and owner.attr == "backend"
                and isinstance(owner.value, ast.Name)
                and owner.value.id == "deps"
            ) or (isinstance(owner, ast.Name) and owner.id == "backend"):
                called.add(node.attr)
    return called


def methods_refused_locally(gateway_py: Path, class_name: str) -> set[str]:
    """Methods of a gateway class whose body (after a docstring) is one `raise`: they make no API call, so a
    function that only calls those needs no IAM role on the API (Vertex's predict: no endpoint deployed)."""
    for node in _parse(gateway_py).body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            refused = set()
            for method in node.body:
                if not isinstance(method, ast.FunctionDef):
                    continue
                body = method.body
                if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    body = body[1:]
                if len(body) == 1 and isinstance(body[0], ast.Raise):
                    refused.add(method.name)
            return refused
    raise ValueError(f"{gateway_py}: no class {class_name}")


def setting_default(config_py: Path, name: str) -> float:
    """The default config.py gives setting NAME: the second argument of its `_int("NAME", default, ...)` or
    `_float("NAME", default, ...)` call."""
    for node in ast.walk(_parse(config_py)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("_int", "_float")
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == name
        ):
            return ast.literal_eval(node.args[1])
    raise ValueError(f"{config_py}: no _int/_float({name!r}, default, ...) call")


def training_backends(config_py: Path) -> tuple[str, ...]:
    """config.py's TRAINING_BACKENDS: the values TRAINING_BACKEND accepts."""
    for node in _parse(config_py).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
            "TRAINING_BACKENDS"
        ]:
            return tuple(ast.literal_eval(node.value))
    raise ValueError(f"{config_py}: no TRAINING_BACKENDS = (...) at module level")


# -- Firestore composite indexes -----------------------------------------------------------------------


def composite_indexes_needed(functions_dir: Path) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """(collection, ((field, order), ...)) for each function that filters on one field and sorts on another.

    Firestore serves equality-filter + order_by on a different field only from a composite index (the
    emulator does not check this, so the local stack cannot catch a missing one).
    """
    needed = set()
    for path in sorted(functions_dir.rglob("*.py")):
        for fn in ast.walk(_parse(path)):
            if not isinstance(fn, ast.FunctionDef):
                continue
            collections, filters, orders = set(), [], []
            for call in ast.walk(fn):
                if not (isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Constant)):
                    continue
                callee = (
                    call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
                )
                if callee == "collection":
                    collections.add(call.args[0].value)
                elif (
                    callee == "FieldFilter" and len(call.args) > 1 and ast.literal_eval(call.args[1]) == "=="
                ):
                    filters.append(call.args[0].value)
                elif callee == "order_by":
                    direction = next((k.value for k in call.keywords if k.arg == "direction"), None)
                    descending = isinstance(direction, ast.Attribute) and direction.attr == "DESCENDING"
                    orders.append((call.args[0].value, "DESCENDING" if descending else "ASCENDING"))
            if len(collections) == 1 and filters and orders:
                fields = tuple((f, "ASCENDING") for f in filters) + tuple(
                    o for o in orders if o[0] not in filters
                )
                needed.add((next(iter(collections)), fields))
    return needed
