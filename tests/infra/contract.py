"""Compare what functions/ needs with what an environment in infra/envs deploys; return every mismatch.

The expectations come from the code (pipeline_code.py); the deployment from the environment's locals and
the module call that deploys one function per entry point. Returning a list (not asserting) lets the tests
show both that the real tree is consistent and that a one-sided change is caught.
"""

from __future__ import annotations

import re
from pathlib import Path

from . import pipeline_code
from .terraform_config import TerraformFolder, expression, load_folder

# Settings the code can run without but a cloud deployment cannot: each default is wrong in the cloud.
REQUIRED_ENV = {
    "GOOGLE_CLOUD_PROJECT": "config.py raises without it",
    "EXPORT_URI_PREFIX": "the default names a bucket this deployment does not own",
    "TRAINING_BACKEND": "unset means automl-v1 whatever training_backend says",
}
# Per backend: what it needs on the functions, and what must not be set (it would route calls elsewhere).
BACKEND_REQUIRED_ENV = {
    "automl-v1": {"AUTOML_ENDPOINT": "config.py refuses automl-v1 without it (Google's endpoint is gone)"},
    "vertex-ai": {},
}
BACKEND_FORBIDDEN_ENV = {
    "automl-v1": set(),
    "vertex-ai": {"VERTEX_ENDPOINT", "AUTOML_ENDPOINT"},  # Vertex in the cloud is Google's endpoint
}
VERTEX_ROLE = "roles/aiplatform.user"
FUNCTIONS_MODULE_SOURCE = "../../modules/cloudfunction"
ENV_EXPRESSION = (
    "merge(var.pipeline_settings, local.topics, local.function_env, local.backend_env[var.training_backend])"
)
ROLES_EXPRESSION = (
    "concat(each.value.roles, each.value.backend_role ? local.backend_roles[var.training_backend] : [])"
)
VERTEX_GATEWAY = ("edgetrain_pipeline/vertex_gateway.py", "VertexGateway")


def _functions_module(env: TerraformFolder) -> tuple[str, dict]:
    calls = [(n, m) for n, m in env.modules.items() if m.get("source") == FUNCTIONS_MODULE_SOURCE]
    if len(calls) != 1:
        raise AssertionError(
            f"{env.path}: expected one module call of {FUNCTIONS_MODULE_SOURCE}, got {len(calls)}"
        )
    return calls[0]


def _topics(env: TerraformFolder) -> dict[str, str]:
    return {key: env.render(value) for key, value in env.locals["topics"].items()}


def deployed_functions(env: TerraformFolder, backend: str = "automl-v1") -> dict[str, dict]:
    """Entry point -> {"trigger": topic name or None, "publishes": {topic names}, "secrets": {env names},
    "automl": reaches the backend (VPC connector, token), "backend_role": gets the backend's project roles,
    "roles": project roles, "env": its env var names} with `backend`."""
    name, call = _functions_module(env)
    if (
        expression(call.get("for_each")) != "local.functions"
        or expression(call.get("entry_point")) != "each.key"
    ):
        raise AssertionError(f"module {name}: expected for_each = local.functions and entry_point = each.key")
    topics = _topics(env)
    token = re.search(r"\{(\w+) = local\.automl_token_secret\}", call.get("secret_environment_variables", ""))
    deployed = {}
    for entry_point, spec in env.locals["functions"].items():
        trigger = spec["trigger"]
        deployed[entry_point] = {
            "trigger": None if trigger is None else topics.get(trigger, f"<undefined topic {trigger}>"),
            "publishes": {topics.get(t, f"<undefined topic {t}>") for t in spec["publishes"]},
            "secrets": set(spec["secrets"])
            | ({token.group(1)} if token and spec["automl"] and backend == "automl-v1" else set()),
            "automl": spec["automl"],
            "backend_role": spec["backend_role"],
            "roles": set(spec["roles"])
            | (set(env.locals["backend_roles"][backend]) if spec["backend_role"] else set()),
            "env": set(env.locals["function_env"]) | set(topics) | set(env.locals["backend_env"][backend]),
        }
    return deployed


def _backend_violations(functions_dir: Path, env: TerraformFolder, backend: str) -> list[str]:
    """The backend switch: the values config.py accepts, the settings, roles and network path of each."""
    problems = []
    accepted = pipeline_code.training_backends(functions_dir / "edgetrain_pipeline" / "config.py")
    variable = env.variables.get("training_backend", {})
    validation = str(variable.get("validation", ""))
    if variable.get("default") not in accepted:
        problems.append(
            f"variable training_backend defaults to {variable.get('default')!r}, not one of {accepted}"
        )
    for value in accepted:
        if f'"{value}"' not in validation:
            problems.append(f"variable training_backend does not accept {value!r}, which config.py does")
    for value in sorted(set(env.locals.get("backend_env", {})) ^ set(accepted)):
        problems.append(f"local.backend_env has no entry for {value!r}, or one config.py does not accept")
    # Vertex's role: only for functions that call a gateway method that reaches the API (not one that the
    # gateway refuses locally, as VertexGateway.predict does: the status page's "Try an image").
    gateway_py, gateway_class = VERTEX_GATEWAY
    refused = pipeline_code.methods_refused_locally(functions_dir / gateway_py, gateway_class)
    settings = env.locals.get("backend_env", {}).get(backend, {})
    if settings.get("TRAINING_BACKEND") != backend:
        problems.append(f"{backend}: the functions get TRAINING_BACKEND={settings.get('TRAINING_BACKEND')!r}")
    for entry_point, function in deployed_functions(env, backend).items():
        calls = pipeline_code.calls_training_backend(functions_dir, entry_point)
        if function["automl"] != calls:
            problems.append(
                f"{entry_point}: automl = {function['automl']}, its code calls the backend: {calls}"
            )
        for var, why in BACKEND_REQUIRED_ENV[backend].items():
            if calls and var not in function["env"]:
                problems.append(f"{backend}: {entry_point} lacks {var} ({why})")
        for var in sorted(BACKEND_FORBIDDEN_ENV[backend] & function["env"]):
            problems.append(f"{backend}: {entry_point} sets {var}")
        needs_role = bool(pipeline_code.backend_methods_called(functions_dir, entry_point) - refused)
        has_role = VERTEX_ROLE in function["roles"]
        if has_role != (needs_role and backend == "vertex-ai"):
            problems.append(f"{backend}: {entry_point} {'has' if has_role else 'lacks'} {VERTEX_ROLE}")
    if backend == "vertex-ai":
        problems += _deployment_violations(env)
    return problems


def _deployment_violations(env: TerraformFolder) -> list[str]:
    """vertex-ai deploys no VM, connector or token; it enables Vertex AI and its service agent's access."""
    problems = []
    if env.locals.get("vertex") != '${var.training_backend == "vertex-ai"}':
        problems.append(f"local.vertex = {env.locals.get('vertex')!r}")
    for name in ("automl_endpoint", "vpc_connector", "automl_token_secret"):
        if not str(env.locals.get(name, "")).startswith("${local.vertex ? null :"):
            problems.append(f"vertex-ai: local.{name} is not null (no VM, no VPC connector, no token)")
    if not str(env.locals.get("self_hosted_automl", "")).startswith("${!local.vertex &&"):
        problems.append(
            "vertex-ai: local.self_hosted_automl does not exclude vertex-ai (the VM would be deployed)"
        )
    counts = {
        "../../modules/automl_service": "${local.self_hosted_automl ? 1 : 0}",
        "../../modules/vertex_ai": "${local.vertex ? 1 : 0}",
    }
    for source, count in counts.items():
        calls = [m for m in env.modules.values() if m.get("source") == source]
        if [m.get("count") for m in calls] != [count]:
            problems.append(f"vertex-ai: expected one call of {source} with count = {count}")
    services = str(next((m["services"] for m in env.modules.values() if "services" in m), ""))
    if 'local.vertex ? ["aiplatform.googleapis.com"]' not in services:
        problems.append("vertex-ai: aiplatform.googleapis.com is not enabled")
    return problems


def _wiring_violations(env: TerraformFolder) -> list[str]:
    """The module call must route trigger, publish list and env vars the way deployed_functions reads them."""
    name, call = _functions_module(env)
    expected = {
        "trigger_topic_id": (
            "each.value.trigger == null ? null : module.pubsub.topic_ids[local.topics[each.value.trigger]]"
        ),
        "publishes_to": (
            "{for t in each.value.publishes : local.topics[t] => module.pubsub.topic_ids[local.topics[t]]}"
        ),
        "environment_variables": ENV_EXPRESSION,
        "project_roles": ROLES_EXPRESSION,
    }
    problems = [
        f"module {name}: {arg} = {call.get(arg)!r}, expected ${{{text}}}"
        for arg, text in expected.items()
        if call.get(arg) != f"${{{text}}}"
    ]
    pubsub_calls = [n for n, m in env.modules.items() if m.get("source") == "../../modules/pubsub"]
    if [env.modules[n].get("topics") for n in pubsub_calls] != ["${local.topics}"]:
        problems.append("exactly one pubsub module call must create the topics of local.topics")
    if "each.value.secrets" not in call.get("secret_environment_variables", ""):
        problems.append(f"module {name}: secret_environment_variables must include each.value.secrets")
    return problems


def violations(
    functions_dir: Path, infra_dir: Path, env_name: str = "dev", backend: str = "automl-v1"
) -> list[str]:
    """Every mismatch between the code and infra/envs/env_name deployed with training_backend = backend."""
    env = load_folder(infra_dir / "envs" / env_name)
    contract = pipeline_code.topic_contract(functions_dir / "edgetrain_pipeline" / "topics.py")
    entry_points = pipeline_code.entry_points(functions_dir / "main.py")
    problems = _wiring_violations(env) + _backend_violations(functions_dir, env, backend)

    # The code's own two halves must agree before infra can be compared with them.
    pubsub_entry_points = {n for n, kind in entry_points.items() if kind == "cloud_event"}
    if pubsub_entry_points != set(contract.pubsub_triggers):
        problems.append(
            f"main.py CloudEvent entry points {sorted(pubsub_entry_points)} != topics.py "
            f"PUBSUB_TRIGGERS {sorted(contract.pubsub_triggers)}"
        )
    http_entry_points = {n for n, kind in entry_points.items() if kind == "http"}
    if http_entry_points != set(contract.http_functions):
        problems.append(f"main.py HTTP entry points {sorted(http_entry_points)} != topics.py HTTP_FUNCTIONS")

    topics = _topics(env)
    for var, default in contract.defaults.items():
        if topics.get(var) != default:
            problems.append(
                f"topic {var}: topics.py says {default!r}, infra/envs/{env_name} says {topics.get(var)!r}"
            )
    for var in set(topics) - set(contract.defaults):
        problems.append(f"topic {var} ({topics[var]}) is deployed but topics.py does not define it")

    deployed = deployed_functions(env, backend)
    for entry_point in sorted(set(entry_points) - set(deployed)):
        problems.append(f"entry point {entry_point} of main.py is not deployed")
    for entry_point in sorted(set(deployed) - set(entry_points)):
        problems.append(f"function {entry_point} is deployed but main.py has no such entry point")

    for entry_point, kind in sorted(entry_points.items()):
        if entry_point not in deployed:
            continue
        function = deployed[entry_point]
        if kind == "cloud_event":
            want = contract.defaults.get(
                contract.pubsub_triggers.get(entry_point, ""), "<no trigger in topics.py>"
            )
            if function["trigger"] != want:
                problems.append(
                    f"{entry_point}: triggered by {function['trigger']!r}, topics.py says {want!r}"
                )
        elif function["trigger"] is not None:
            problems.append(
                f"{entry_point} is an HTTP function but is deployed with trigger {function['trigger']!r}"
            )
        reachable = {contract.defaults[t] for t in pipeline_code.topics_reachable(functions_dir, entry_point)}
        if function["publishes"] != reachable:
            problems.append(
                f"{entry_point}: may publish to {sorted(function['publishes'])}, "
                f"its code publishes to {sorted(reachable)}"
            )

    granted = set().union(*(f["publishes"] for f in deployed.values())) if deployed else set()
    for var in contract.published:
        if contract.defaults[var] not in granted:
            problems.append(f"published topic {contract.defaults[var]} is not publishable by any function")

    read = pipeline_code.env_vars_read(functions_dir)
    for entry_point, function in deployed.items():
        for var in sorted((function["env"] | function["secrets"]) - read):
            problems.append(f"{entry_point}: sets {var}, which the functions' code never reads")
    for var, why in REQUIRED_ENV.items():
        if any(var not in function["env"] for function in deployed.values()):
            problems.append(f"{var} is not set on the functions ({why})")
    for entry_point, function in deployed.items():
        if (
            entry_point in http_entry_points
            and "CSRF_SECRET" in read
            and "CSRF_SECRET" not in function["secrets"]
        ):
            problems.append(
                f"{entry_point}: CSRF_SECRET must come from Secret Manager (else each instance "
                "signs forms with its own random key)"
            )

    declared = {
        (index["collection"], tuple((f["field_path"], f["order"]) for f in index["fields"]))
        for index in env.locals.get("firestore_indexes", {}).values()
    }
    for collection, fields in sorted(pipeline_code.composite_indexes_needed(functions_dir) - declared):
        problems.append(f"Firestore query on {collection} by {fields} has no composite index")
    return problems
