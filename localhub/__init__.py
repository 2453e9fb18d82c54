"""The local Hub: a Hub-shaped HTTP server on 127.0.0.1 and tiny stand-ins of the catalog repos.

Test, demo and benchmark machinery: the real ``huggingface_hub`` client drives it through ``HF_ENDPOINT``.
The product's core never imports it.
"""

from .faults import Fault, HubStats
from .repos import HubFile, HubRepo
from .server import LocalHub

__all__ = ["Fault", "HubFile", "HubRepo", "HubStats", "LocalHub"]
