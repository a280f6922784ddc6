"""The chaos harness: real gateway processes against a test SMSC that fails on purpose."""
