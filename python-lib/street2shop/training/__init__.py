"""Training the attribute models (one per label column) whose encodings make the search vectors."""
