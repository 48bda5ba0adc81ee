"""Models that turn a picture into a vector: encoders, backbones, descriptors, model folders, the embedder."""
