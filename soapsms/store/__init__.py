"""The durable store: engine and sessions, tables, queries and migrations."""
