"""What a sampled gallery_page call's telemetry row costs the caller (``python -m bench
telemetry``), measured from the client with each call its own transaction, commit
included: the other commands measure server time, which leaves the commit out, and a
logged row makes the commit wait for a WAL flush.

In turns, ``rounds`` times ``calls`` calls per variant after a warm-up of WARM_UP calls,
one popular tag's first page: ``off`` (sample rate 0), ``unlogged`` (every call
sampled, gallery_telemetry as deployed: UNLOGGED), ``logged`` (every call sampled, the
table switched to LOGGED, as the previous release had it). The table is left UNLOGGED
and the rate as it was.
"""

from __future__ import annotations

import time

import psycopg

from bench.run import _quantile

VARIANTS = ("off", "unlogged", "logged")
WARM_UP = 20


def _client_ms(conn: psycopg.Connection, tag: object, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        conn.execute("SELECT * FROM gallery.gallery_page(tags => %s::uuid[])", ([tag],)).fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return times


def run(dsn: str, rounds: int, calls: int) -> dict[str, dict[str, float]]:
    """Per variant: the median and p95 of the client's ms per call."""
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    with psycopg.connect(dsn, autocommit=True) as conn:
        (rate,) = conn.execute("SELECT telemetry_sample_rate FROM gallery_config").fetchone()
        (tag,) = conn.execute(
            "SELECT tag_id FROM tag_cardinality_stats GROUP BY 1 ORDER BY sum(cardinality) DESC"
            " LIMIT 1"
        ).fetchone()
        try:
            for _ in range(rounds):
                for variant in VARIANTS:
                    conn.execute(
                        "UPDATE gallery_config SET telemetry_sample_rate = %s",
                        (0 if variant == "off" else 1,),
                    )
                    if variant == "logged":
                        conn.execute("ALTER TABLE gallery_telemetry SET LOGGED")
                    elif variant == "unlogged":
                        conn.execute("ALTER TABLE gallery_telemetry SET UNLOGGED")
                    _client_ms(conn, tag, WARM_UP)
                    times[variant] += _client_ms(conn, tag, calls)
        finally:
            conn.execute("ALTER TABLE gallery_telemetry SET UNLOGGED")
            conn.execute("UPDATE gallery_config SET telemetry_sample_rate = %s", (rate,))
    return {
        v: {"median_ms": _quantile(t, 0.5), "p95_ms": _quantile(t, 0.95)} for v, t in times.items()
    }


def markdown(result: dict[str, dict[str, float]], command: str) -> str:
    lines = [
        f"`{command}`: client ms per gallery_page call, commit included",
        "",
        "| variant | median ms | p95 ms |",
        "|---|---|---|",
    ]
    lines += [f"| {v} | {m['median_ms']:.3f} | {m['p95_ms']:.3f} |" for v, m in result.items()]
    return "\n".join(lines)
