"""Pictures: decoding bytes into RGB arrays (``decode``) and loading many with errors by row (``load``)."""
