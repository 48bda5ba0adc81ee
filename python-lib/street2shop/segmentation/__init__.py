"""Garment segmentation: find the garment's box, cut it out with GrabCut, and the jobs around it.

Entry points:
- ``garment``: ``segment_garment`` (box + GrabCut -> ``Segmentation``), ``apply_mask``, ``crop_to_garment``,
  ``segment_and_crop`` and ``garment_transform`` (a ``pixels -> pixels`` transform for embedders).
- ``job``: ``segment_images``, the batch job of the ``segment`` command and recipe (``SegmentReport``,
  ``BOX_COLUMNS``).
- ``step``: the ``segment`` option of embedding, training, search and serving (``segment_step``,
  ``takes_garment``).
- ``mask_model``: the optional garment-mask model (``load_mask_model``).
"""
