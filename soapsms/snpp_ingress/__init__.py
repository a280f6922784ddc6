"""SNPP (RFC 1861) to SMS: a listener for paging tools (sendpage, Net::SNPP, NMS).

    holdtime.py  HOLDuntil's YYMMDDHHMMSS [+/-GMT offset] → a time (pure)
    lines.py     command lines off the socket: bounded, with an idle timeout
    replies.py   use-case results and errors → SNPP reply lines and codes
    session.py   one connection: commands, the transaction, LOGI, SEND, MSTA
    server.py    the listener's lifecycle on its own event-loop thread

docs/snpp.md describes the commands and the answers for users.
"""
