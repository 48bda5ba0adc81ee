"""The demo catalogue: garments drawn with known labels, consumer-style photos, masks and planted duplicates."""
