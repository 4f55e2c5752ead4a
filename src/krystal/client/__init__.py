"""A Python client for ``krystal serve`` with the local agent's observe/decide/reward API.

Needs httpx (the ``server`` or ``llm`` extra). Changing one line moves code from a local
agent to a hosted one:

>>> from krystal.client import RemoteKrystal
>>> k = RemoteKrystal("http://127.0.0.1:8000", agent="autoscaler")
>>> k.observe({"latency_ms": 120.0}) is k   # decide() and reward(r) then go to the service
True
>>> k.close()
"""

from krystal._imports import require

require("httpx", "server")

from krystal.client._errors import RemoteError  # noqa: E402
from krystal.client._remote import AsyncRemoteKrystal, RemoteKrystal  # noqa: E402

__all__ = ["AsyncRemoteKrystal", "RemoteError", "RemoteKrystal"]
