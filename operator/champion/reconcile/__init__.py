"""load -> observe (adapters) -> decide (domain) -> act -> one status patch."""
