"""Internals of the DSS test double (storage and run context); not part of the ``dataiku`` API."""
