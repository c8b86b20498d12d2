"""API views: one module per endpoint family; each view translates and calls jobs.services."""
