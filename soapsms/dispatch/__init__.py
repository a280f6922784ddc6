"""The dispatcher: claims due messages, routes them to carriers, records outcomes."""
