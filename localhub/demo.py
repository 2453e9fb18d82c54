"""The demo's Hub: stand-ins big enough to watch arrive, each connection capped as a CDN caps it, and one file
that breaks off partway once, so a retry that resumes is seen too.

At 1/1,000 of the real sizes musicgen-small is 5.8 MB and its biggest file takes about 4.5 s at the cap; GTZAN
holds 100 clips of about 165 kB; everything the demo's Hub serves adds up to about 150 MB.
"""

from __future__ import annotations

from .faults import Fault
from .hosts import PublisherHosts
from .offhub import offhub_standins
from .repos import HubRepo
from .server import LocalHub
from .standins import catalog_standins

DEMO_SCALE = 1_000
DEMO_CLIP = 165_000  # an eighth of a real 30 s clip: each takes a third of a second, a hundred take seconds
DEMO_LIMIT = 512 * 1024  # bytes a second for each connection
FLAKY = "state_dict.bin"  # every MusicGen repo has one (841 kB and up here): the first served breaks off once
FLAKY_AFTER = 300_000  # bytes into it: a third of the way through the smallest


def demo_standins() -> list[HubRepo]:
    return catalog_standins(scale=DEMO_SCALE, clip=DEMO_CLIP)


def demo_hub() -> LocalHub:
    """The demo's Hub, not started: use it as a context manager."""
    hub = LocalHub(demo_standins(), conn_limit=DEMO_LIMIT)
    hub.inject(Fault("reset", FLAKY, after_bytes=FLAKY_AFTER))
    return hub


def demo_hosts() -> PublisherHosts:
    """The look-alikes of the off-Hub publishers' hosts, serving the six ids the Hub lacks (capped like the Hub),
    not started: use it as a context manager."""
    files, records = offhub_standins()
    return PublisherHosts(files, records, conn_limit=DEMO_LIMIT)
