"""The workbench app: configuration, sign-in, the provider gateway and the glue pages call."""

import os

# litellm fetches its model cost map from the internet at import unless told to use the copy it
# ships; this machine (and production behind a firewall) has no such access. Set before anything
# in the package can import litellm.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
