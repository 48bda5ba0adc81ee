"""Garment segmentation: a box and GrabCut (``garment``), mask models, the ``segment`` option of other jobs."""
