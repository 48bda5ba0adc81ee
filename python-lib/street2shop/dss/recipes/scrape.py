"""Recipe street2shop-scrape: site spec folder -> products + visited ids (datasets) + pictures/state folder, per category.

``main`` crawls one category (the output partition) with :func:`street2shop.dss.scrape_io.scrape_partition`.
"""

from __future__ import annotations

from street2shop.dss import recipe_io
from street2shop.dss.scrape_io import load_spec, raise_if_blocked, scrape_partition, write_partition
from street2shop.dss.scrape_params import scrape_settings, spec_source


def main() -> None:
    """Crawl this run's category into its partition of the store folder; rewrite the two datasets."""
    # 1. Read the config and the inputs; the output partition names the category.
    config = recipe_io.config()
    spec = load_spec(recipe_io.input_folder("site_spec"), *spec_source(config))
    settings = scrape_settings(config, spec)
    store = recipe_io.output_folder("store")
    category = write_partition(store)
    # 2. One library call: crawl the category, resuming from the journals in the store folder.
    result = scrape_partition(spec, settings, store, category)
    # 3. Write the outputs (everything stored so far in this partition), then fail if the site refused us.
    recipe_io.write_output_frame("products", result.products)
    recipe_io.write_output_frame("visited", result.visited)
    raise_if_blocked(result)

