"""Where pictures are read from and outputs are published to: local folders, S3, DSS managed folders.

Entry points:
- ``stores``: the ``ImageStore`` protocol, ``ImageSource`` (manifest ``image`` values), ``open_image_store``,
  ``image_source``, and bounded concurrent reads ``ordered_map`` / ``read_many``.
- ``local.LocalImageStore``, ``s3.S3ImageStore`` / ``s3.S3PrefixStore``, ``managed_folder.FolderImageStore``
  (the one managed-folder adapter: ``folder_paths``, ``folder_read``, ``folder_write``).
- ``publish``: ``LocalOutputDir`` and ``FolderOutputDir`` (outputs replaced atomically), ``write_atomic``.
- ``published``: ``open_published`` reads what was published (``POINTER_FILE`` names the version).
"""
