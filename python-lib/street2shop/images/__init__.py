"""Pictures: bytes to RGB arrays and back, one at a time or many at once.

Entry points:
- ``decode``: ``decode_image`` (bytes -> RGB, with a pixel limit), ``encode_jpeg``/``encode_png``, ``fit_to_square``.
- ``load``: ``load_images`` (many pictures in threads, each bad row yielded with its reason), ``read_image``
  (one picture, its bytes kept), ``errors_frame``.
"""
