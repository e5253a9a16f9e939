"""The engine: the only code that combines the pure core, the providers and the store."""
