"""``dataiku.apinode``: empty, as in DSS 9.0.5 (``python/dataiku/apinode/__init__.py``).

``DkuCustomApiException`` is not importable from here: the API node's function server offers it to
the served function (see tests/support/apinode_emulator.py).
"""
