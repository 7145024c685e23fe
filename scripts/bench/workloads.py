"""The benchmark's request bodies: one per tool, payload sizes from the cost post (0.5–2 KB), and a realistic mix."""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson


@dataclass(frozen=True)
class Workload:
    name: str
    bodies: tuple[bytes, ...]
    uses_db: bool
    unique_key: bool = False  # the write tool: each request needs a fresh idempotency key

    def lua(self, path: Path) -> Path:
        """A wrk script sending the bodies in rotation (with a per-request idempotency key for writes)."""
        quoted = ", ".join("[==[" + b.decode() + "]==]" for b in self.bodies)
        script = [
            'wrk.method = "POST"',
            'wrk.headers["Content-Type"] = "application/json"',
            'wrk.headers["Accept"] = "application/json, text/event-stream"',
            f"local bodies = {{{quoted}}}",
            "local i = 0",
            "local tid = tostring(math.random(1, 1000000000))",
            "request = function()",
            "  i = i + 1",
            "  local body = bodies[(i % #bodies) + 1]",
        ]
        if self.unique_key:
            script.append('  body = string.gsub(body, "KEY", tid .. "-" .. i)')
        script += ["  return wrk.format(nil, nil, nil, body)", "end"]
        path.write_text("\n".join(script) + "\n")
        return path

    def raw_requests(self, port: int) -> bytes:
        """Complete HTTP requests separated by NUL bytes, for the open-loop generator (fixed keys: reads only)."""
        requests = []
        for body in self.bodies:
            head = (
                f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Accept: application/json, text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            requests.append(head + body)
        return b"\0".join(requests)


def call(name: str, arguments: dict[str, object], id_: int = 1) -> bytes:
    return orjson.dumps(
        {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    )


def _echo(size: int) -> Workload:
    return Workload(f"echo_{size}", (call("echo", {"message": "hello", "payload_bytes": size}),), uses_db=False)


ECHO_512, ECHO_1K, ECHO_2K = _echo(512), _echo(1024), _echo(2048)
CPU = Workload("hash_chain", (call("hash_chain", {"text": "mcpstack", "rounds": 200}),), uses_db=False)
READ = Workload(
    "get_customer", tuple(call("get_customer", {"customer_id": 1 + (i * 7919) % 10000}) for i in range(64)), True
)
SEARCH = Workload(
    "search_documents",
    tuple(call("search_documents", {"query": f"sku{1 + (i * 131) % 4000}", "limit": 5}) for i in range(64)),
    True,
)
WRITE = Workload(
    "send_notification",
    (
        call(
            "send_notification",
            {"customer_id": 42, "channel": "email", "message": "order shipped", "idempotency_key": "bench-KEY"},
        ),
    ),
    True,
    unique_key=True,
)
# The cost post's traffic: mostly reads and searches, some payload-sized answers, a few writes.
MIX = Workload(
    "mix",
    READ.bodies[:8] + SEARCH.bodies[:6] + ECHO_1K.bodies * 4 + CPU.bodies * 1,
    True,
)
ALL = {w.name: w for w in (ECHO_512, ECHO_1K, ECHO_2K, CPU, READ, SEARCH, WRITE, MIX)}

# -- the document-search mix: the words users would search for, from the corpus's own term frequencies ---------------

SEARCH_MIX_SEED = 24
SEARCH_MIX_QUERIES = 256
SEARCH_LIMIT = 5
# Vocabulary of the seed corpus with each term's document frequency: the lexemes of the search index that a query of
# that one word finds again (websearch_to_tsquery stems it to itself), most frequent first, ties by the term.
VOCABULARY_SQL = """
SELECT word, ndoc FROM ts_stat('SELECT search FROM documents')
 WHERE websearch_to_tsquery('english', word)::text = quote_literal(word)
 ORDER BY ndoc DESC, word
"""


def zipf_terms(vocabulary: list[tuple[str, int]], *, n: int, seed: int) -> list[tuple[str, int]]:
    """`n` terms drawn with Zipf's law over the vocabulary ranked by document frequency (P(rank r) ∝ 1/r), as search
    queries are: a few common words asked very often, a long tail of rare ones (product codes, document numbers).
    `vocabulary` is (term, documents containing it), most frequent first; a fixed seed gives the same draw."""
    if not vocabulary:
        raise ValueError("empty vocabulary: is the database seeded?")
    cumulative = list(itertools.accumulate(1.0 / rank for rank in range(1, len(vocabulary) + 1)))
    rng = random.Random(seed)  # noqa: S311 (a reproducible draw, not a secret)
    return [vocabulary[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])] for _ in range(n)]


def search_mix(
    vocabulary: list[tuple[str, int]], *, n: int = SEARCH_MIX_QUERIES, seed: int = SEARCH_MIX_SEED
) -> tuple[Workload, dict[str, Any]]:
    """The search workload from the corpus's term frequencies, and the record of its mix for the results file."""
    terms = zipf_terms(vocabulary, n=n, seed=seed)
    bodies = tuple(call("search_documents", {"query": term, "limit": SEARCH_LIMIT}) for term, _ in terms)
    matching = sorted(ndoc for _, ndoc in terms)
    record = {
        "method": "one word per query, Zipf's law (P(rank r) ∝ 1/r) over the seed corpus's index terms ranked by "
        "document frequency, fixed seed",
        "seed": seed,
        "limit": SEARCH_LIMIT,
        "vocabulary_terms": len(vocabulary),
        "distinct_terms": len({term for term, _ in terms}),
        "queries": [{"query": term, "documents_matching": ndoc} for term, ndoc in terms],
        "median_documents_matching": matching[len(matching) // 2],
        "queries_over_2000_matches": sum(m > 2000 for m in matching),
        "queries_at_most_10_matches": sum(m <= 10 for m in matching),
    }
    return replace(SEARCH, bodies=bodies), record


def with_search_mix(search: Workload) -> dict[str, Workload]:
    """Every workload, with the document search (and the mix's search share) drawn from the corpus."""
    mix = replace(MIX, bodies=READ.bodies[:8] + search.bodies[:6] + ECHO_1K.bodies * 4 + CPU.bodies * 1)
    return ALL | {search.name: search, mix.name: mix}
