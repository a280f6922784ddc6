#!/bin/sh
# Run once by the postgres image when it creates the cluster: a standby
# (compose profile two-sites) may stream from it with the same credentials.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
