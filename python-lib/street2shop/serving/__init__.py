"""Serving: the ``recommend`` request handler, the local HTTP server, the web page's routes and deployment to DSS."""
