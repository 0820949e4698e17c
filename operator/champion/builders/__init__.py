"""Pure functions from resources to child manifests (plain dicts)."""
