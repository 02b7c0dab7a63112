"""Small shared helpers: crash-safe writes, input limits, option ranges, reading user YAML."""
