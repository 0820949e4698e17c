"""Local emulation for tests, the sandbox and the demo: never imported by the operator."""
