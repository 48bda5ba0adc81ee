"""Where pictures are read from and outputs are published to: local folders, S3, DSS managed folders."""
