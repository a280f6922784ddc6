"""E-mail to SMS: an aiosmtpd listener for the id:/password:/message:/end format.

    mime.py      bytes of a mail → its text: part choice, transfer encodings,
                 charsets, format=flowed, HTML reduced to text (pure)
    parse.py     that text → account, password, text, numbers (pure)
    replies.py   use-case results and errors → SMTP reply lines
    notify.py    the optional confirmation/error mail through a relay
    handler.py   the aiosmtpd handler: RCPT check, DATA → use cases → reply
    server.py    the listener's lifecycle on its own event-loop thread

docs/email.md describes the format and the answers for users.
"""
