"""The demo catalogue: garments drawn with known labels, consumer-style photos, masks and planted duplicates.

Entry points:
- ``catalogue.make_demo_catalog`` (and ``DemoCatalog``, the layout it writes): the catalogue's plan and files.
- ``garments``: the label vocabulary, ``GarmentSpec`` and ``render_garment`` (a product shot and its mask).
- ``street.make_street_photo``: a consumer-style photo of a drawn garment.
- ``textures``: the fabric, pattern and noise maps both draw with.
"""
