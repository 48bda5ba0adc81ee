"""street2shop ``recommend``: the code of the Python-function endpoint stored in the API service.

The API node runs this file once per process with only ``folders`` defined (DSS 9's function
server, ``dataiku/apinode/predict/functionserver.py``): ``folders[0]`` the index folder,
``folders[1]`` the library folder (the plugin's python-lib as a zip, and the endpoint's limits).
The index is loaded here, once; each request calls ``recommend`` with the body's keys as keyword
arguments: ``{"image": "<base64 JPEG/PNG/WebP>", "k": 10, "filters": {"type": ["dresses"]}}``.

A bad request raises the API node's ``DkuCustomApiException`` with a 4xx status. The docs use
that name only inside the served function ("only accessible from the predict method",
developer guide, api-designer/custom-responses), and DSS 9's ``dataiku.apinode`` is empty, so
it is looked up when a request is served, never when this file is loaded. Where it does not
exist, the error is raised as a plain exception whose message starts with the HTTP status.
This file defines exactly one function, so the API node serves it whatever name its settings give.
"""

import os
import sys

for _folder in folders:  # noqa: F821 - defined by the API node
    _zip = os.path.join(_folder, "street2shop-lib", "python-lib.zip")
    if os.path.isfile(_zip):
        if _zip not in sys.path:
            sys.path.insert(0, _zip)
        break

import street2shop.serving.endpoint as _endpoint  # noqa: E402 - after the zip is on sys.path

_handle = _endpoint.load_endpoint(folders)  # noqa: F821


def recommend(**data):
    """The catalogue products most similar to the picture in ``image``."""
    return _handle(data, globals().get("DkuCustomApiException"))
