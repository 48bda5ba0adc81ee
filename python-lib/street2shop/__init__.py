"""street2shop: photo-to-product search for fashion catalogues."""

__version__ = "0.1.0"
