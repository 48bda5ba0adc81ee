"""The one adapter between DSS objects (datasets, managed folders, configs) and the library; the only place that imports ``dataiku``.

One module per plugin component, named after its folder, holds the component's three phases
(read the config and inputs, one library call, write the outputs); the component's entry file
only calls it:

- ``recipes/<name>.py:main()`` for ``custom-recipes/street2shop-<name>/recipe.py``
  (``run_component(ID, main)``): dedup, embed, evaluate, scrape, segment, train, train_embedding.
- ``steps/<name>.py:main()`` for ``python-steps/street2shop-<name>/step.py`` (``run_component(ID, main)``;
  ``main`` reads the step config): check_duplicates, quality_gate, refresh_api.
- ``macros/<name>.py:run(project_key, config, progress)`` and ``PROGRESS_TARGET`` for the ``Runnable``
  in ``python-runnables/street2shop-<name>/runnable.py``: deploy_api, download_weights.
- ``webapps/<name>.py:main(app)`` for ``webapps/street2shop-<name>/backend.py``: visual_search.

Shared adapters, one module each:

- ``boundary``: ``run_component`` (logging, library errors as one readable ``PluginError``).
- ``config``: the one reader of component configs (empty text means "not set").
- ``params``, ``dedup_params``, ``serving_params``, ``scrape_params``: configs turned into checked
  parameters; pure (no ``dataiku``, and importing them loads neither OpenCV nor TensorFlow).
- ``recipe_io``: a recipe's datasets and folders by role; ``model_io``: model folders and weights
  downloaded to local paths; ``scrape_io``: crawl state in a partitioned managed folder;
  ``plugin_files``: where the plugin's own files are.
"""
