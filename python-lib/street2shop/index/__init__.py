"""The index folder: vectors (FAISS), its format, building it, part weights and fusion, and search.

Entry points (import them from their modules; this package imports nothing, so TensorFlow and
OpenCV stay lazily loaded):

- ``index.build``: ``embed_catalogue`` (``street2shop embed``, recipe ``street2shop-embed``),
  ``make_embedder``, ``build_index`` (embed -> publish with a given embedder), ``image_source``.
- ``index.fit_weights``: ``fit_weights_with_fallback`` (``street2shop fit-weights``),
  ``fit_weights_on_queries``, ``fit_weights_on_synthesised``.
- ``index.search``: ``SearchIndex`` (``street2shop search``, serving).
- ``index.folder``: the folder format (``read_index_info``, ``read_items``, ``read_vectors``).
- ``index.fusion``: ``fit_part_weights``, ``reweighted``, ``split_parts``, ``rerank_by_attributes``.
- ``index.vectors``: ``VectorIndex``; ``index.queries``: ``queries_in_gallery``.
"""
