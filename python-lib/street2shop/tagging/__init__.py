"""Auto-tagging: fill in a catalogue's labels with trained attribute models, and flag the ones that disagree.

Entry point: ``tagging.predict.tag_catalogue`` (``street2shop predict``, recipe
``street2shop-predict``); ``tagging.predict.load_taggers`` loads the model folders,
``tagging.predict.TagReport`` holds the tags, the rejected rows and the summary. Inference
only: nothing here imports ``street2shop.training``.
"""
