"""Pure rules of the gateway: numbers, encodings, senders, statuses and ids."""
