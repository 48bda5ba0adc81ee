"""User->shop retrieval evaluation (DeepFashion2 protocol) and its HTML report."""
