"""Polite, resumable scraping of labelled consumer photos from a marketplace described by a JSON site spec.

The package is cut like Scrapy: ``site_spec``/``extract``/``vocabulary`` say what to extract,
``settings``/``robots``/``throttle``/``fetch`` say how to fetch politely, ``state`` says what to
keep, and ``crawler`` walks a category: listing page, product links, unvisited product pages.
"""
