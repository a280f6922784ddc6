"""SMSCs for the SMPP connector's tests: our fault-injecting one and npm's `smpp` server."""
