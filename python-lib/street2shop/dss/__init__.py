"""The one adapter between DSS objects (datasets, managed folders, configs) and the library; the only place that imports ``dataiku``."""
