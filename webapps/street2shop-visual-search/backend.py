"""Webapp street2shop-visual-search: the search page's backend, on the Flask ``app`` DSS injects."""

from street2shop.dss.webapps.visual_search import main

main(app)  # noqa: F821 - DSS defines ``app`` before running this file
