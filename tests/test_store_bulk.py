"""soapsms.store.bulk on both stores: the same rows whichever path carries them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from soapsms.store import bulk
from soapsms.store import dispatch_queries as q
from soapsms.store.db import make_engine, transaction
from soapsms.store.migrate import upgrade

# Two months apart: on PostgreSQL the parts fall into two partitions.
MONTHS = (datetime(2026, 11, 3, 12), datetime(2026, 12, 20, 8))


def _parts(count: int, start: int = 0) -> list[dict]:
    return [
        {
            "message_id": f"M{n:05d}",
            "message_created_at": MONTHS[n % 2] + timedelta(seconds=n),
            "part_no": 1 + n % 3,
            "connector": "c",
            "carrier_id": f"id-{n}",
            "status": "SUBMITTED",
            "submitted_at": MONTHS[1],
        }
        for n in range(start, start + count)
    ]


def _states(conn) -> dict[str, str]:
    rows = conn.execute(select(q.parts.c.carrier_id, q.parts.c.status))
    return {r.carrier_id: r.status for r in rows}


def test_insert_update_and_select_by_pairs(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    many, few = _parts(30), _parts(3, start=30)  # COPY on PostgreSQL, and INSERT
    with transaction(engine, write=True) as conn:
        bulk.insert_rows(conn, q.parts, many)
        bulk.insert_rows(conn, q.parts, few)
    changed = many[::4]
    with transaction(engine, write=True) as conn:
        bulk.update_rows(
            conn,
            q.parts,
            ("message_id", "message_created_at", "part_no"),
            [
                {
                    "message_id": p["message_id"],
                    "message_created_at": p["message_created_at"],
                    "part_no": p["part_no"],
                    "status": "DELIVERED",
                    "stat": "DELIVRD",
                }
                for p in changed
            ],
        )
    with transaction(engine) as conn:
        states = _states(conn)
        wanted = [(p["message_id"], p["message_created_at"]) for p in few + many[:2]]
        found = {
            r.carrier_id
            for where in bulk.pairs_in(
                conn, (q.parts.c.message_id, q.parts.c.message_created_at), wanted
            )
            for r in conn.execute(select(q.parts.c.carrier_id).where(where))
        }
        by_carrier = {
            r.carrier_id
            for where in bulk.values_in(conn, q.parts.c.carrier_id, ["id-1", "id-32"])
            for r in conn.execute(select(q.parts.c.carrier_id).where(where))
        }
    assert len(states) == 33
    delivered = {p["carrier_id"] for p in changed}
    assert {c for c, s in states.items() if s == "DELIVERED"} == delivered
    assert found == {p["carrier_id"] for p in few + many[:2]}
    assert by_carrier == {"id-1", "id-32"}
    engine.dispose()
