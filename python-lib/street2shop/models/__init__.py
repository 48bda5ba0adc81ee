"""Models: what turns a picture into a vector, and how saved models are written and read.

Entry points:

* :class:`~street2shop.models.encoder.Encoder` (frozen value type), ``make_encoder``,
  ``save_encoder``, ``model_fingerprint`` (:mod:`.encoder`, imports nothing else of ours);
* :func:`~street2shop.models.loading.load_encoder`: any saved model, dispatched on its recorded kind;
* :func:`~street2shop.models.layers.register_layers` and the layer names (:mod:`.layers`);
* ``backbone_encoder`` (:mod:`.backbones`), ``descriptor_encoder`` (:mod:`.descriptors`);
* the trained model folder format (:mod:`.model_folder`), ``top_classes`` and
  ``predicted_labels`` (:mod:`.predictions`);
* :class:`~street2shop.models.embedder.Embedder` (several weighted encoders, one vector).

Keras and TensorFlow are imported only inside the functions that need them.
"""
