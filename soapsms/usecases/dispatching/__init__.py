"""The dispatcher's use cases: queue, side effects of changes, receipts, callbacks."""
