"""Street-like views synthesised from shop pictures, and synthesised user->shop queries.

Entry points:
- ``views``: ``cut_out_garments`` (each shop picture segmented once, masks cached by content),
  ``background_bank``, ``ViewSource``, ``sample_views`` / ``view_dataset`` (views composited inside
  ``tf.data``), ``SynthesisParams``.
- ``queries``: ``synthesise_queries`` (``SyntheticQueries``: synthesised queries with their true products).
"""
