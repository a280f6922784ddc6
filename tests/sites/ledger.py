"""What the store holds, asked from inside a namespace (the harness itself
stays outside them):

    python -m tests.sites.ledger setup URL      migrate, create account acme
    python -m tests.sites.ledger count URL PFX  {reference: [status, ...]} as JSON
"""

from __future__ import annotations

import json
import sys

from soapsms.config import Settings
from soapsms.store.db import make_engine, transaction
from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime

ACCOUNT, PASSWORD = "acme", "s3cret"


def main() -> int:
    action, url = sys.argv[1], sys.argv[2]
    if action == "setup":
        rt = Runtime(
            Settings(
                database_url=url,
                argon2_time_cost=1,
                argon2_memory_kib=64,
                argon2_parallelism=1,
            )
        )
        try:
            upgrade(rt.engine)
            accounts.create_account(rt, ACCOUNT, PASSWORD, "ACME Corp")
        finally:
            rt.close()
        return 0
    engine = make_engine(url, timeout=30)
    try:
        with transaction(engine) as conn:
            rows = conn.exec_driver_sql(
                "SELECT client_reference, status FROM messages "
                "WHERE client_reference LIKE %(p)s",
                {"p": sys.argv[3] + "%"},
            ).all()
    finally:
        engine.dispose()
    stored: dict[str, list[str]] = {}
    for reference, status in rows:
        stored.setdefault(reference, []).append(status)
    json.dump(stored, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
