"""The shared conformance cases (``conformance/cases/*.yaml``, format in ``conformance/README.md``)
for Python test harnesses: a lean port of the Rust runner (``conformance/runner/src``) with the
same pass/fail semantics. YAML is read by ``yaml.safe_load``; regexes (``re:`` values and
``body_regex``) run on Python's ``re``, so cases must use syntax that ``re`` and Rust's ``regex``
crate read alike (no class set operations like ``[a-f&&[^c]]``: loading rejects them).

:func:`load_cases` loads and checks every case, :func:`run_case` sends one through a :data:`Send`
and checks the response, :func:`http_send` is a real HTTP/1.1 transport. A transport must:

- send ``target`` (path and query as written) verbatim, never decoded or re-encoded
  (params.yaml and routing.yaml hold ``%31``, ``[``, ``]``, ``|``);
- send each ``(lower-case name, value)`` pair as its own line (one case sends two
  ``tracestate`` lines), empty and UTF-8 values included, and add only ``host`` and, for a
  non-empty body, ``content-length`` (no ``content-length: 0``);
- return the status, every response header line and the whole body (none for ``HEAD``),
  even when writing the body failed: limits.yaml sends bodies over 64 KiB that the server may
  refuse with 413 before reading them; allow well over 1 s per request.

Run the cases once each, in :func:`load_cases` order, against one server process started from
the repository root with ``CONFORMANCE_JWT_SECRET`` set to ``conformance/credentials/hs.secret``:
the ``/metrics`` cases of telemetry.yaml (:data:`ORDER_DEPENDENT_FILES`, sorted last) expect
series that only earlier cases create, so alone or on a fresh server they fail. No other case
depends on another.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import pathlib
import re
import socket
import urllib.parse
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import yaml

REPO_ROOT: pathlib.Path = pathlib.Path(__file__).resolve().parents[3]
CASES_DIR: pathlib.Path = REPO_ROOT / "conformance" / "cases"
#: Case files whose cases depend on those of earlier files (the ``/metrics`` counters).
ORDER_DEPENDENT_FILES: frozenset[str] = frozenset({"telemetry.yaml"})
DISTINCT_HEADER = "header:"
REGEX_PREFIX = "re:"  # an expected string starting with this is a regex (a search)
ANY = "*"  # an expected header / json_subset value meaning "present, with any value"
MAX_GENERATED_BODY = 64 * 1024 * 1024  # largest body_repeat (catches a mistyped `times`)
MAX_SHOWN_BODY = 4000  # body characters shown in a failure report
_HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

# The keys a case, its request and its expectation may have, with their YAML types (a list is
# a list of strings; `object`: any JSON document).
_CASE: dict[str, type] = {"name": str, "request": dict, "expect": dict}
_REQUEST: dict[str, type] = {
    "method": str, "path": str, "headers": dict, "body": str, "json": object, "body_repeat": dict,
    "tls": dict,
}
_REPEAT: dict[str, type] = {"text": str, "times": int}
_EXPECT: dict[str, type] = {
    "status": int, "headers": dict, "body": str, "body_regex": str, "json": object, "json_subset": object,
    "json_absent": list, "body_not_contains": list, "version": str, "distinct": list,
}


class CaseLoadError(Exception):
    """A case file could not be loaded; the message names the file and the case."""


@dataclass(frozen=True)
class Sent:
    """A response as it came back: status, every header line in order, the whole body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


#: ``send(method, target, header lines, body) -> Sent``; see the module documentation.
Send = Callable[[str, str, list[tuple[str, str]], bytes], Sent]


@dataclass(frozen=True)
class Case:
    """One case. ``headers`` are the request's header lines (names lower-case). ``expect`` is
    the validated ``expect`` block of the file; its ``headers`` are ``(lower-case name, want)``
    pairs, ``want`` being ``None`` (absent), ``"*"``, ``"re:..."`` or the exact value."""

    name: str
    file: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    expect: dict[str, Any]
    #: ``request.tls``: the case goes over HTTPS (ALPN, client certificate), which only the
    #: shared runner speaks (``ci/conformance python``); this module's transports skip it.
    tls: bool = False


def load_cases(directory: pathlib.Path = CASES_DIR) -> list[Case]:
    """The cases of every ``*.yaml`` / ``*.yml`` file of ``directory`` (a relative one is taken
    from :data:`REPO_ROOT`), in file-name order, after replacing ``{{token:NAME}}`` by entry
    ``NAME`` of ``<directory>/../credentials/tokens.json``."""
    directory = REPO_ROOT / directory
    tokens_file = directory / ".." / "credentials" / "tokens.json"
    tokens: dict[str, str] = json.loads(tokens_file.read_text()) if tokens_file.is_file() else {}
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise CaseLoadError(f"no case files (*.yaml, *.yml) in {directory}")
    cases: list[Case] = []
    first_file: dict[str, str] = {}
    for path in files:
        try:
            doc = yaml.safe_load(_expand_tokens(path.name, path.read_text(encoding="utf-8"), tokens))
        except yaml.YAMLError as error:
            raise CaseLoadError(f"{path.name}: invalid YAML: {error}") from None
        if not isinstance(doc, (list, type(None))):
            raise CaseLoadError(f"{path.name}: a case file must be a YAML list of cases")
        for index, item in enumerate(doc or []):
            name = item.get("name") if isinstance(item, dict) else None
            where = f"{path.name}: case {name!r}" if isinstance(name, str) else f"{path.name}: case #{index + 1}"
            try:
                case = _build_case(path.name, item)
            except ValueError as error:
                raise CaseLoadError(f"{where}: {error}") from None
            if case.name in first_file:
                raise CaseLoadError(f"{where}: duplicate case name (first in {first_file[case.name]})")
            first_file[case.name] = path.name
            cases.append(case)
    return cases


def _expand_tokens(file: str, text: str, tokens: dict[str, str]) -> str:
    def token(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name not in tokens:
            raise CaseLoadError(f"{file}: unknown token {name!r} in {{{{token:{name}}}}}")
        return tokens[name]

    text = re.sub(r"\{\{token:(.*?)\}\}", token, text, flags=re.S)
    if "{{token:" in text:
        raise CaseLoadError(f"{file}: unterminated placeholder {{{{token:...")
    return text


def _fields(value: Any, where: str, schema: dict[str, type], *required: str) -> dict[str, Any]:
    """``value`` as a mapping with only ``schema``'s keys, each of its type. ``key: null``
    counts as not given, except for ``json`` / ``json_subset`` (a ``null`` document)."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a mapping, got {value!r}")
    fields: dict[str, Any] = {}
    for key, item in value.items():
        kind = schema.get(key) if isinstance(key, str) else None
        if kind is None:
            raise ValueError(f"{where}: unknown key {key!r} (expected one of: {', '.join(schema)})")
        if item is None and kind is not object:
            continue
        wrong_type = not isinstance(item, kind) or (kind is int and isinstance(item, bool))
        if wrong_type or (kind is list and not all(isinstance(v, str) for v in item)):
            raise ValueError(f"{where}.{key}: expected {'strings' if kind is list else kind.__name__}, got {item!r}")
        fields[key] = item
    missing = [key for key in required if key not in fields]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    return fields


def _header_items(headers: dict[Any, Any], where: str, expected: bool) -> Iterator[tuple[str, Optional[str]]]:
    """``(lower-case name, value as text)`` (``5`` -> ``"5"``, ``true`` -> ``"true"``). Request
    headers give a list value as one line per item; expected headers may be null (absent)."""
    for name, value in headers.items():
        if not isinstance(name, str) or not _HTTP_TOKEN.fullmatch(name):
            raise ValueError(f"{where}: invalid header name {name!r}")
        for item in [value] if expected or not isinstance(value, list) else value:
            if isinstance(item, bool):
                item = "true" if item else "false"
            if not isinstance(item, (str, int, float)) and not (expected and item is None):
                raise ValueError(f"{where}.{name}: expected a string, number or boolean, got {item!r}")
            yield name.lower(), None if item is None else str(item)


def _regex(pattern: str, where: str) -> None:
    """Compiles ``pattern`` once so that a bad one fails at load time. ``re`` warns about Rust-only
    syntax it reads differently (``&&`` in a class): an error here too."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        try:
            re.compile(pattern)
        except (re.error, FutureWarning) as error:
            raise ValueError(f"{where}: bad regex {pattern!r}: {error}") from None


def _check_subset_regexes(value: Any, at: str) -> None:
    if isinstance(value, str) and value.startswith(REGEX_PREFIX):
        _regex(value[len(REGEX_PREFIX) :], f"expect.json_subset at {at or '(root)'}")
    elif isinstance(value, (list, dict)):
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            _check_subset_regexes(item, f"{at}/{_escape_pointer(str(key))}")


def _build_case(file: str, item: Any) -> Case:
    raw = _fields(item, "case", _CASE, *_CASE)
    req = _fields(raw["request"], "request", _REQUEST, "method", "path")
    if not req["path"].startswith("/"):
        raise ValueError(f"request.path must start with '/': {req['path']!r}")
    headers = [(name, str(value)) for name, value in _header_items(req.get("headers", {}), "request.headers", False)]
    if len({"body", "json", "body_repeat"} & req.keys()) > 1:
        raise ValueError("request: give at most one of body, json, body_repeat")
    body = req.get("body", "").encode()
    if "json" in req:
        if all(name != "content-type" for name, _ in headers):
            headers.append(("content-type", "application/json"))
        body = json.dumps(req["json"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if "body_repeat" in req:
        repeat = _fields(req["body_repeat"], "request.body_repeat", _REPEAT, *_REPEAT)
        if not 0 <= len(repeat["text"].encode()) * repeat["times"] <= MAX_GENERATED_BODY:
            raise ValueError(f"request.body_repeat: not 0..={MAX_GENERATED_BODY} bytes")
        body = (repeat["text"] * repeat["times"]).encode()

    expect = _fields(raw["expect"], "expect", _EXPECT, "status")
    if not 100 <= expect["status"] <= 599:
        raise ValueError(f"expect.status {expect['status']} is not 100..=599")
    expect["headers"] = list(_header_items(expect.get("headers", {}), "expect.headers", True))
    for name, want in expect["headers"]:
        if want is not None and want.startswith(REGEX_PREFIX):
            _regex(want[len(REGEX_PREFIX) :], f"expect.headers.{name}")
    if "body_regex" in expect:
        _regex(expect["body_regex"], "expect.body_regex")
    _check_subset_regexes(expect.get("json_subset"), "")
    for pointer in expect.get("json_absent", []):
        if not pointer.startswith("/"):
            raise ValueError(f"expect.json_absent: {pointer!r} is not a JSON pointer (must start with '/')")
    for source in expect.get("distinct", []):
        if not source.startswith("/") and not (source.startswith(DISTINCT_HEADER) and len(source) > len(DISTINCT_HEADER)):
            raise ValueError(f"expect.distinct: {source!r} is neither a JSON pointer nor header:<name>")
    if len(expect.get("distinct", [])) == 1:
        raise ValueError("expect.distinct: list at least two values")
    return Case(raw["name"], file, req["method"], req["path"], tuple(headers), body, expect, "tls" in req)


def _escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)


def compare_json(expected: Any, actual: Any, subset: bool, at: str = "") -> list[str]:
    """The differences between two documents, each at its JSON pointer. Exact: same keys and
    values. Subset: expected keys must exist (others may too), ``"*"`` matches any value and
    ``"re:..."`` any string it matches. Both: arrays match item by item and must have the same
    length; numbers compare by value (``30`` equals ``30.0``); ``true`` is not ``1``."""
    here = at or "(root)"
    if subset and isinstance(expected, str) and (expected == ANY or expected.startswith(REGEX_PREFIX)):
        pattern = expected[len(REGEX_PREFIX) :]
        if expected != ANY and not (isinstance(actual, str) and re.search(pattern, actual)):
            return [f"{here}: expected a string matching {pattern!r}, got {_dump(actual)}"]
        return []
    if isinstance(expected, dict) and isinstance(actual, dict):
        out: list[str] = []
        for key, want in expected.items():
            pointer = f"{at}/{_escape_pointer(key)}"
            if key in actual:
                out += compare_json(want, actual[key], subset, pointer)
            else:
                out.append(f"{pointer}: missing (expected {_dump(want)})")
        if not subset:
            extra = [(key, got) for key, got in actual.items() if key not in expected]
            out += [f"{at}/{_escape_pointer(key)}: unexpected (got {_dump(got)})" for key, got in extra]
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{here}: expected an array of {len(expected)} items, got {len(actual)} items: {_dump(actual)}"]
        items = enumerate(zip(expected, actual))
        return [p for i, (want, got) in items for p in compare_json(want, got, subset, f"{at}/{i}")]
    if expected == actual and isinstance(expected, bool) == isinstance(actual, bool):
        return []
    return [f"{here}: expected {_dump(expected)}, got {_dump(actual)}"]


def _pointer_target(doc: Any, pointer: str) -> Optional[list[Any]]:
    """``[value]`` at an RFC 6901 pointer (resolved like ``serde_json::Value::pointer``) or ``None``."""
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list) and re.fullmatch(r"0|[1-9][0-9]*", token) and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            return None
    return [doc]


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # Python's json would accept NaN and Infinity


def check(case: Case, sent: Sent) -> list[str]:
    """Every expectation of ``case`` that ``sent`` fails; empty means the case passed."""
    expect = case.expect
    problems: list[str] = []
    if sent.status != expect["status"]:
        problems.append(f"status: expected {expect['status']}, got {sent.status}")
    for name, want in expect["headers"]:
        values = [value for key, value in sent.headers if key.lower() == name]
        got = ", ".join(values) if values else None
        if got is None:
            if want is not None:
                problems.append(f"header {name}: expected {'present' if want == ANY else repr(want)}, but it is absent")
        elif want is None:
            problems.append(f"header {name}: expected absent, got {got!r}")
        elif want.startswith(REGEX_PREFIX):
            if not re.search(want[len(REGEX_PREFIX) :], got):
                problems.append(f"header {name}: expected to match {want[len(REGEX_PREFIX):]!r}, got {got!r}")
        elif want not in (ANY, got):
            problems.append(f"header {name}: expected {want!r}, got {got!r}")

    text = sent.body.decode("utf-8", errors="replace")
    if "body" in expect and text != expect["body"]:
        problems.append(f"body: expected {expect['body']!r}, got {_shorten(text)}")
    if "body_regex" in expect and not re.search(expect["body_regex"], text):
        problems.append(f"body: does not match regex {expect['body_regex']!r}")
    problems += [f"body: must not contain {s!r}" for s in expect.get("body_not_contains", []) if s in text]

    wants_json = bool({"json", "json_subset", "json_absent"} & expect.keys()) or any(
        source.startswith("/") for source in expect.get("distinct", [])
    )
    if not wants_json:
        return problems + _check_distinct(expect.get("distinct", []), sent, None)
    try:
        actual = json.loads(sent.body, parse_constant=_not_json)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError included
        return problems + [f"body: not JSON ({error})"]
    if "json" in expect:
        problems += [f"json: {p}" for p in compare_json(expect["json"], actual, subset=False)]
    if "json_subset" in expect:
        problems += [f"json_subset: {p}" for p in compare_json(expect["json_subset"], actual, subset=True)]
    for pointer in expect.get("json_absent", []):
        found = _pointer_target(actual, pointer)
        if found is not None:
            problems.append(f"json_absent: {pointer} is present ({_dump(found[0])})")
    return problems + _check_distinct(expect.get("distinct", []), sent, (actual,))


def _check_distinct(sources: list[str], sent: Sent, actual: Optional[tuple[Any]]) -> list[str]:
    """Every ``distinct`` value is present, and no two are equal (as the Rust runner checks)."""
    problems: list[str] = []
    seen: list[tuple[str, str]] = []
    for source in sources:
        value: Optional[str]
        if source.startswith(DISTINCT_HEADER):
            name = source[len(DISTINCT_HEADER) :].lower()
            values = [v for key, v in sent.headers if key.lower() == name]
            value = ", ".join(values) if values else None
        else:
            found = _pointer_target(actual[0], source) if actual is not None else None
            value = None if found is None else (found[0] if isinstance(found[0], str) else _dump(found[0]))
        if value is None:
            problems.append(f"distinct: {source} is absent")
            continue
        for other, earlier in seen:
            if earlier == value:
                problems.append(f"distinct: {source} equals {other} ({value!r})")
                break
        seen.append((source, value))
    return problems


def _shorten(text: str) -> str:
    cut = f"... ({len(text.encode())} bytes in all)" if len(text) > MAX_SHOWN_BODY else ""
    return repr(text[:MAX_SHOWN_BODY]) + cut


def run_case(case: Case, send: Send) -> None:
    """Sends ``case`` and checks the response. The ``AssertionError`` names the case and the
    request, lists each expectation that failed and shows what came back (or "no response")."""
    grouped: dict[str, list[str]] = {}  # header lines grouped by name, as http::HeaderMap sends them
    for name, value in case.headers:
        grouped.setdefault(name, []).append(value)
    headers = [(name, value) for name, values in grouped.items() for value in values]
    report = [f"FAIL {case.name} ({case.file})", f"  request: {case.method} {case.path}"]
    report += [f"    {name}: {value}" for name, value in headers]
    if case.body:
        report.append(f"    body: {_shorten(case.body.decode('utf-8', errors='replace'))}")
    try:
        sent = send(case.method, case.path.split("#", 1)[0], headers, case.body)  # a URI drops its #fragment
    except Exception as error:  # any transport failure is "no response"
        report += ["  problems:", f"    - {type(error).__name__}: {error}", "  got: no response"]
        raise AssertionError("\n".join(report)) from error
    problems = check(case, sent)
    if problems:
        report += ["  problems:", *(f"    - {problem}" for problem in problems), "  got:", f"    status: {sent.status}"]
        report += [f"    {name}: {value}" for name, value in sent.headers]
        report.append(f"    body: {_shorten(sent.body.decode('utf-8', errors='replace'))}")
        raise AssertionError("\n".join(report))


class _Connection(http.client.HTTPConnection):
    def _encode_request(self, request: str) -> bytes:
        return request.encode("utf-8")  # http.client would send the request line as ASCII


def http_send(base_url: str, timeout: float = 10.0) -> Send:
    """A :data:`Send` over HTTP/1.1 to ``http://host[:port][/prefix]``: a fresh TCP connection
    (``TCP_NODELAY``) per request; each socket operation must finish within ``timeout`` s."""
    parts = urllib.parse.urlsplit(base_url)
    host, port, prefix = parts.hostname, parts.port or 80, parts.path.rstrip("/")
    if parts.scheme != "http" or not host or parts.query or parts.fragment:
        raise ValueError(f"invalid base URL {base_url!r}: expected http://host[:port][/prefix]")
    authority = parts.netloc.rpartition("@")[2]
    host_header = authority.removesuffix(":80") if parts.port == 80 else authority  # as hyper sends it

    def send(method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Sent:
        connection = _Connection(host, port, timeout=timeout)
        try:
            connection.connect()
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.putrequest(method, prefix + target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value.encode("utf-8"))
            names = {name.lower() for name, _ in headers}
            if "host" not in names:
                connection.putheader("host", host_header)
            if body and not names & {"content-length", "transfer-encoding"}:
                connection.putheader("content-length", str(len(body)))
            connection.endheaders()
            if body:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    connection.send(body)  # the server may answer (413) before reading it all: read that answer
            response = connection.getresponse()  # knows that a HEAD response has no body
            latin1 = response.getheaders()  # http.client decodes header lines as Latin-1; hyper keeps the bytes
            received = [(n, v.encode("latin-1").decode("utf-8", errors="replace").strip(" \t")) for n, v in latin1]
            return Sent(response.status, received, response.read())
        finally:
            connection.close()

    return send
