"""Duplicate products by image: perceptual hashes and vectors, pairs, groups, calibration and a review report."""
