"""The test SMSC as a process of its own, for a namespace: accepts every
submit_sm with a receipt; on SIGTERM writes how often each text was submitted.

    python -m tests.sites.smsc ADDRESS OUT.json   (prints its port)
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections import Counter
from typing import Any

from tests.smsc.fault import Conn, FaultSmsc


def accept_with_receipt(conn: Conn, pdu: Any) -> None:
    conn.accept(pdu, message_id := conn.smsc.next_id())
    conn.receipt(message_id)


def main() -> int:
    address, out = sys.argv[1], sys.argv[2]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with FaultSmsc(accept_with_receipt, host=address) as smsc:
        print(smsc.port, flush=True)
        stop.wait()
        with smsc.lock:
            texts = Counter(s.short_message.decode() for s in smsc.submits)
        summary = {"binds": len(smsc.bind_attempts), "submits": dict(texts)}
    with open(out, "w") as file:
        json.dump(summary, file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
