"""The index folder: vectors (FAISS), its format, building it, part weights and fusion, and search."""
