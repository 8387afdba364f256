"""Seeded generator of bad Pub/Sub messages for every topic the functions consume.

Most go through the Pub/Sub emulator (published bytes: what any publisher can send). Envelope faults, which
only a broken push sender can produce, are POSTed to the function directly as push bodies.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field

INJECTIONS = [
    "'; DROP TABLE jobs; --",
    "../../../../etc/passwd",
    "${jndi:ldap://127.0.0.1/x}",
    "<script>alert(1)</script>",
    "{{7*7}}{% raw %}",
    "a\u0000b",
    "%2e%2e%2f%2e%2e%2fetc",
    "projects/p/locations/l/datasets/../../../x",
    "\u202e\ufeffname",
    "$(rm -rf /)",
    "name\r\nX-Injected: 1",
    "😀" * 40,
    "__reserved__",  # a valid-looking ID Firestore refuses as a document ID
]
CONFINEMENT_URIS = [
    "/etc/passwd.csv",
    "file:///etc/hosts.csv",
    "gs://edgetrain-local/../../../../etc/x.csv",
    "../../../etc/passwd.csv",
    "gs:///etc/passwd.csv",
    "gs://edgetrain-local/faults/%2e%2e/%2e%2e/x.csv",
]
BUDGETS = [0, -1, 999, 100_001, 10**30, 1.5, True, [], {}, "NaN", "1e400"]  # none valid, None aside
REQUIRED = {
    "import_dataset": ("schemaVersion", "dataset", "inputUris"),
    "export_and_notify": ("schemaVersion", "trainingId", "dataset", "state"),
}
KINDS = ("utf8", "json", "not_object", "schema", "huge", "unknown_ids", "budget", "injection", "envelope")


@dataclass(frozen=True)
class BadMessage:
    number: int
    kind: str
    function: str
    data: bytes = b""  # the message data (published, or base64-encoded into a push body)
    attributes: dict[str, str] = field(default_factory=dict)
    push_body: bytes | None = None  # envelope faults: the raw HTTP body POSTed to the function
    content_type: str = "application/json"

    @property
    def via_push(self) -> bool:
        return self.push_body is not None

    @property
    def reads_payload(self) -> bool:
        """Whether the function reads this message's payload, so must record it when it refuses it (a poll
        tick's payload is ignored: a well-formed envelope around bad data is simply a tick)."""
        return self.function != "poll_operations"


def _j(value) -> bytes:
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode()


class MessageGenerator:
    """`count` bad messages spread over `functions`, reproducible from `seed`."""

    def __init__(self, seed: int, functions: list[str], dataset: str, parent: str):
        self.rng = random.Random(seed)
        self.functions = functions
        self.dataset = dataset  # a real imported dataset: faults that pass the schema reach the service
        self.parent = parent

    def generate(self, count: int) -> list[BadMessage]:
        return [self._one(i) for i in range(count)]

    def _one(self, number: int) -> BadMessage:
        rng = self.rng
        function = self.functions[number % len(self.functions)]
        kind = KINDS[rng.randrange(len(KINDS))]
        if kind == "envelope":
            body, content_type = self._envelope(number)
            return BadMessage(number, kind, function, push_body=body, content_type=content_type)
        data, attributes = getattr(self, f"_{kind}")(function), {}
        if rng.random() < 0.1:
            attributes = {f"k{i}": rng.choice(INJECTIONS) for i in range(rng.randrange(1, 20))}
        if not data and not attributes:  # Pub/Sub refuses a message with neither
            attributes = {"origin": "faults"}
        return BadMessage(number, kind, function, data, attributes)

    # ---- payload faults (published through the emulator)
    def _utf8(self, function: str) -> bytes:
        good = _j(self._valid(function))
        cut = self.rng.randrange(len(good))
        return good[:cut] + self.rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80"]) + good[cut:]

    def _json(self, function: str) -> bytes:
        good = _j(self._valid(function)).decode()
        return self.rng.choice(
            [
                good[: self.rng.randrange(1, len(good))],
                good.replace('"', "'"),
                "{" * 5000,
                "[" * 100_000,
                "",
                "NaN",
                good + "}",
                '{"schemaVersion": 1,}',
                "\ufeff" + good,
            ]
        ).encode()

    def _not_object(self, function: str) -> bytes:
        return _j(self.rng.choice([[self._valid(function)], 1, "text", None, True, 1e308, []]))

    def _schema(self, function: str) -> bytes:
        """A required field missing or of the wrong type, an unknown field or an unknown schema version."""
        message = dict(self._valid(function))
        change = self.rng.randrange(4)
        key = self.rng.choice(REQUIRED.get(function, ("schemaVersion", "dataset")))
        if change == 0:
            del message[key]
        elif change == 1:
            message[key] = self.rng.choice([None, 12.5, [], {}, ""])
        elif change == 2:
            message["unexpectedField"] = "x"
        else:
            message["schemaVersion"] = self.rng.choice([0, 2, "1", 1.5, None])
        return _j(message)

    def _huge(self, function: str) -> bytes:
        message = dict(self._valid(function))
        size = self.rng.choice([100_000, 1_100_000, 2_000_000])  # under 10 MB a message, escaped
        key = self.rng.choice([k for k in message if k != "schemaVersion"])
        message[key] = self.rng.choice(["a", "/", "é", "\\"]) * size
        if function == "import_dataset" and self.rng.random() < 0.5:
            message["inputUris"] = [f"gs://b/{i}.csv" for i in range(self.rng.choice([101, 50_000]))]
        return _j(message)

    def _unknown_ids(self, function: str) -> bytes:
        message = dict(self._valid(function))
        unknown = f"{self.parent}/datasets/IOD{self.rng.randrange(10**9)}"
        if function == "export_and_notify":
            message["trainingId"] = f"tr-unknown-{self.rng.randrange(10**9)}"
            message["state"] = self.rng.choice(["SUCCEEDED", "FAILED", "CANCELLED"])
        else:
            message["dataset"] = self.rng.choice([unknown, unknown.rsplit("/", 1)[1], "ICN42"])
            if function == "start_training":  # a valid request but for the unknown dataset
                message["trainBudgetMilliNodeHours"] = 1000
        return _j(message)

    def _budget(self, function: str) -> bytes:
        message = dict(self._valid(function))
        if function == "start_training":
            message["trainBudgetMilliNodeHours"] = self.rng.choice(BUDGETS)
            message["modelType"] = self.rng.choice(["cloud-high-accuracy-1", "mobile-low-latency-1", "x"])
        else:
            message[self.rng.choice(["trainBudgetMilliNodeHours", "budget"])] = self.rng.choice(BUDGETS)
        text = _j(message).decode()
        if self.rng.random() < 0.3:  # JSON's non-standard numbers, which Python's parser accepts
            text = text.replace('"NaN"', self.rng.choice(["NaN", "Infinity", "-Infinity", "1e400"]))
        return text.encode()

    def _injection(self, function: str) -> bytes:
        message = dict(self._valid(function))
        value = self.rng.choice(INJECTIONS)
        if function == "import_dataset" and self.rng.random() < 0.6:
            message["inputUris"] = [self.rng.choice(CONFINEMENT_URIS)]  # on the real dataset
        else:
            key = self.rng.choice([k for k in message if k != "schemaVersion"])
            message[key] = value
        return _j(message)

    def _valid(self, function: str) -> dict:
        """A well-formed message of the function's schema on the real dataset (the faults change it)."""
        if function == "import_dataset":
            return {"schemaVersion": 1, "dataset": self.dataset, "inputUris": ["gs://b/x.csv"]}
        if function == "export_and_notify":
            return {"schemaVersion": 1, "trainingId": "tr-x", "dataset": self.dataset, "state": "SUCCEEDED"}
        return {
            "schemaVersion": 1,
            "dataset": self.dataset,
            "trainBudgetMilliNodeHours": 0,  # out of range: every start_training fault stays a fault
            "displayName": "faults",
        }

    # ---- envelope faults (POSTed as push bodies)
    def _envelope(self, number: int) -> tuple[bytes, str]:
        rng = self.rng
        message_id = f"fault-envelope-{number}"
        good = base64.b64encode(b'{"schemaVersion": 1}').decode()
        message = {"data": good, "messageId": message_id, "publishTime": "2026-12-06T00:00:00Z"}
        variant = rng.randrange(10)
        if variant == 0:
            message["data"] = "!!not base64!!"
        elif variant == 1:
            message["data"] = good.rstrip("=") + "="  # bad padding
        elif variant == 2:
            message["data"] = base64.b64encode(b"\xff\xfe\xfd").decode()
        elif variant == 3:
            message["attributes"] = rng.choice(["text", ["a", "b"], 12, {"k": {"nested": 1}}])
        elif variant == 4:
            message["publishTime"] = rng.choice(["yesterday", 12, "9999-99-99T00:00:00Z"])
        elif variant == 5:
            message["data"] = rng.choice([12, None, ["x"], {"a": 1}])
        elif variant == 6:
            return json.dumps(
                {"message": rng.choice(["text", 12, [message], None])}
            ).encode(), "application/json"
        elif variant == 7:
            return rng.choice([b"", b"{", b"\xff\xfe", b"[]", b"null"]), "application/json"
        elif variant == 8:
            return json.dumps({"message": message}).encode(), rng.choice(["text/plain", "application/xml"])
        else:
            message["data"] = base64.b64encode(b"x" * 2_000_000).decode()
        return json.dumps({"message": message, "subscription": "projects/p/subscriptions/s"}).encode(), (
            "application/json"
        )
