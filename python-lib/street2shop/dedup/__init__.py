"""Duplicate products by image: perceptual hashes and vectors, pairs, groups, calibration and a review report.

Entry points:

- ``run.deduplicate``: the one run that ``street2shop dedup`` and the DSS recipe call: the whole
  manifest, or its products ``against`` an existing catalogue.
- ``find.find_duplicates``: the duplicate products of a whole catalogue.
- ``incremental.check_new_products``: new products against a catalogue from ``catalogue.load_catalogue``.
- ``calibration.calibrate_thresholds``: the threshold to use, from labelled or planted pairs.
- ``outputs.write_outputs``, ``outputs.read_summary`` and ``outputs.check_duplicate_count``: the
  output folder and the check-duplicates step's verdict.
- ``params.DedupParams`` and ``params.DedupResult``: a run's settings and results.

Building blocks: ``hashing`` (perceptual hashes), ``vector_pairs`` and ``hash_pairs`` (candidate
pairs, sharing ``candidates``), ``verify`` (local features and RANSAC), ``grouping`` (pairs into
groups, the product kept), ``report`` (the review gallery); ``stages`` and ``verify_stage`` are the
stages both runs are made of.
"""
