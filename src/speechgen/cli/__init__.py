"""Command-line interface: one dispatcher (main) and one module per command group."""
