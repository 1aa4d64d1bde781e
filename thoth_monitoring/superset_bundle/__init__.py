"""The Superset dashboard over the adviser analytics tables, as an import bundle."""
