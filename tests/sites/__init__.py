"""Two sites on one machine: network namespaces, a PostgreSQL primary and
standby, two gateway nodes, the test SMSC; `make sites` runs the scenarios."""
