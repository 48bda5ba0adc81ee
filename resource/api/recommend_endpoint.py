"""street2shop ``recommend``: the code of the Python-function endpoint stored in the API service.

The API node runs this file once per process, with ``folders`` set to the endpoint's managed
folders: ``folders[0]`` the index folder, ``folders[1]`` the library folder (the plugin's
python-lib as a zip, and the endpoint's limits). The index is loaded here, once; each request
calls ``recommend`` with the body's keys as keyword arguments:
``{"image": "<base64 JPEG/PNG/WebP>", "k": 10, "filters": {"type": ["dresses"]}}``.
A bad request raises the API node's ``DkuCustomApiException`` with a 4xx status.
"""

import os
import sys

for _folder in folders:  # noqa: F821 - defined by the API node
    _zip = os.path.join(_folder, "street2shop-lib", "python-lib.zip")
    if os.path.isfile(_zip):
        if _zip not in sys.path:
            sys.path.insert(0, _zip)
        break

try:
    _api_exception = DkuCustomApiException  # noqa: F821 - provided by the API node's function server
except NameError:
    from dataiku.apinode import DkuCustomApiException as _api_exception

from street2shop.serving.endpoint import load_endpoint  # noqa: E402

_handle = load_endpoint(folders, api_exception=_api_exception)  # noqa: F821


def recommend(**data):
    """The catalogue products most similar to the picture in ``image``."""
    return _handle(data)
