"""``RemoteKrystal`` and ``AsyncRemoteKrystal``: the local agent's API over HTTP.

``observe`` only remembers the metrics; ``decide`` sends them with a decision id made
here, and ``reward`` sends the reward for that id. Because the service treats a repeated
decide or reward with the same id as the same request, a request whose answer was lost
(connection reset, timeout) is simply sent again: it cannot make a second decision or
count a reward twice. Connection errors and 502/503/504 answers are retried with
exponential back-off, waiting at least what a ``Retry-After`` header asks (up to
``MAX_RETRY_AFTER`` seconds: the service asks a second while it replaces a stopped
writer process or reloads an agent); other errors raise at once (422 as
:class:`krystal.InputError`, the rest as :class:`RemoteError`).

With ``defer_rewards=True`` a reward waits and goes with the next decide in one
``/step`` round trip (half the requests, and about half the service's CPU per
decision); ``reward()`` then returns NaN and the TD error arrives with that decide, as
``last_td_error``. ``flush()`` (and ``close()``) sends a reward still waiting.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from krystal._errors import CallOrderError, InputError
from krystal.client._errors import RemoteError

_RETRY_STATUS = (502, 503, 504)
#: The longest a ``Retry-After`` header makes one retry wait, in seconds.
MAX_RETRY_AFTER = 5.0

# Decision ids are made here so that a retried decide is recognised as the same one: a
# random prefix per process and a counter (one os.urandom call, not one per decision).
_ID_PREFIX = "c" + secrets.token_hex(8)
_id_counter = itertools.count()


def _new_decision_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):08x}"


class _Remote:
    """What the sync and async clients share: request bodies, answers and local state."""

    def __init__(
        self,
        url: str,
        agent: str,
        api_key: str | None,
        timeout: float,
        retries: int,
        backoff: float,
        defer_rewards: bool = False,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InputError(f"url: expected an http:// or https:// URL, got {url!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InputError(f"retries: expected an integer >= 0, got {retries!r}")
        self.url = url.rstrip("/")
        self.agent = agent
        self.retries = retries
        self.backoff = backoff
        self._timeout = timeout
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._path = f"/v1/agents/{quote(agent, safe='')}"
        self._observation: dict[str, float] | None = None
        self._decision_id: str | None = None
        self._last_action: Any = None
        self._defer = defer_rewards
        self._deferred: dict[str, Any] | None = None  # a reward body for the next /step
        self.last_td_error: float | None = None

    # -- the loop, local half ---------------------------------------------------------

    def observe(self, obs: Mapping[str, float]) -> Any:
        """Remember the metrics; they go to the service with the next ``decide()``."""
        self._observation = _check_observation(obs)
        return self

    def _decide_body(self, objective: Any) -> dict[str, Any]:
        if objective is not None:
            raise InputError(
                "objective: not supported by a remote agent (the service cannot call your "
                "function); expected None"
            )
        return {"observation": self._observation, "decision_id": _new_decision_id()}

    def _decided(self, answer: dict[str, Any]) -> Any:
        self._observation = None  # sent; the service remembers it as the current state
        self._decision_id = answer["decision_id"]
        self._last_action = answer["action"]
        return self._last_action

    def _reward_body(self, r: float) -> dict[str, Any]:
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r):
            raise InputError(f"reward: expected a finite number, got {r!r}")
        if self._decision_id is None:
            raise CallOrderError(
                "reward() was called with no decision waiting; call decide() first"
            )
        return {"decision_id": self._decision_id, "reward": float(r)}

    def _rewarded(self, answer: dict[str, Any]) -> float:
        self._decision_id = None
        td_error = answer["td_error"]
        # A decision that another client's newer decision superseded is stored but not
        # learned from: there is no TD error to report.
        self.last_td_error = math.nan if td_error is None else float(td_error)
        return self.last_td_error

    def _defers(self, body: dict[str, Any]) -> bool:
        """Keep the reward ``body`` for the next decide when rewards are deferred."""
        if not self._defer:
            return False
        self._deferred = body
        self._decision_id = None
        return True

    def _next_decision(self, objective: Any) -> tuple[str, dict[str, Any]]:
        """The route and body that decide next: ``/step`` carrying a deferred reward when
        there are new metrics to step with, else ``/decide`` (``""``: send the deferred
        reward on its own first)."""
        body = self._decide_body(objective)
        if self._deferred is None:
            return "/decide", body
        if body["observation"] is None:
            return "", body
        step = {
            **self._deferred,
            "observation": body["observation"],
            "next_decision_id": body["decision_id"],
        }
        return "/step", step

    def _decided_by(self, route: str, answer: dict[str, Any]) -> Any:
        if route == "/step":
            self._deferred = None
            self._rewarded(answer["reward"])
            answer = answer["decision"]
        return self._decided(answer)

    @property
    def last_action(self) -> Any:
        """The most recent decision, or ``None`` before the first."""
        return self._last_action

    @property
    def decision_id(self) -> str | None:
        """The id of the decision waiting for ``reward()``, if any."""
        return self._decision_id

    def _request_kwargs(self, body: Any) -> dict[str, Any]:
        return {"json": body} if body is not None else {}

    def _retry(self, outcome: httpx.Response | httpx.TransportError, attempt: int) -> bool:
        if attempt >= self.retries:
            return False
        return isinstance(outcome, httpx.TransportError) or outcome.status_code in _RETRY_STATUS

    def _delay(self, outcome: httpx.Response | httpx.TransportError, attempt: int) -> float:
        # Exponential back-off, or what the server asked for if that is longer.
        delay = self.backoff * 2**attempt
        if isinstance(outcome, httpx.Response):
            asked = _seconds(outcome.headers.get("retry-after"))
            if asked is not None:
                delay = max(delay, min(asked, MAX_RETRY_AFTER))
        return delay

    def _settle(
        self, outcome: httpx.Response | httpx.TransportError, attempt: int
    ) -> dict[str, Any]:
        if isinstance(outcome, httpx.TransportError):
            raise _lost(outcome, self.url, attempt + 1) from outcome
        return _answer(outcome)


def _seconds(header: str | None) -> float | None:
    """A ``Retry-After`` header's delay in seconds (None: absent, a date, or nonsense).

    >>> _seconds("1"), _seconds("0.5"), _seconds("Wed, 21 Oct 2015 07:28:00 GMT"), _seconds(None)
    (1.0, 0.5, None, None)
    """
    if header is None:
        return None
    try:
        value = float(header)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _check_observation(obs: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(obs, Mapping) or not obs:
        raise InputError(
            f"observe: expected a non-empty dict of metric name -> number, got {obs!r}"
        )
    values: dict[str, float] = {}
    for name, value in obs.items():
        if not isinstance(name, str) or not name:
            raise InputError(f"observe: metric names must be non-empty strings, got {name!r}")
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise InputError(f"{name}: expected a finite number, got {value!r}")
        values[name] = float(value)
    return values


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.status_code < 400:
        return response.json() if response.content else {}
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    if response.status_code == 422:
        raise InputError(str(detail))
    raise RemoteError(response.status_code, str(detail))


def _lost(exc: BaseException, url: str, attempts: int) -> RemoteError:
    return RemoteError(
        0, f"could not reach the Krystal service at {url} after {attempts} tries: {exc}"
    )


class RemoteKrystal(_Remote):
    """An agent hosted by ``krystal serve``, with the local ``Krystal``'s loop.

    Moving from local to remote is one line::

        k = Krystal(KrystalConfig(seed=1))                          # local
        k = RemoteKrystal("http://127.0.0.1:8000", "default")       # remote

    ``decide()`` returns what the hosted agent returns (a list of floats, or a dict for
    a named action space) and ``reward(r)`` the TD error (NaN if another client's newer
    decision on the same agent superseded this one, which is then not learned from).
    ``objective=`` is not available remotely. ``defer_rewards=True`` sends each reward with
    the next decide (one ``/step`` round trip instead of two requests); see the module
    docstring.
    """

    def __init__(
        self,
        url: str,
        agent: str = "default",
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.05,
        defer_rewards: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(url, agent, api_key, timeout, retries, backoff, defer_rewards)
        self._http = httpx.Client(
            base_url=self.url, headers=self._headers, timeout=timeout, transport=transport
        )

    @classmethod
    def create(
        cls,
        url: str,
        agent: str,
        api_key: str | None = None,
        *,
        preset: str | None = None,
        space: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> RemoteKrystal:
        """Create the agent on the service (admin key), then return a client for it."""
        client = cls(url, agent, api_key, **options)
        body = {"name": agent, "preset": preset, "space": space, "config": config}
        client._call("POST", "/v1/agents", body)
        return client

    def decide(self, objective: Any = None) -> Any:
        """Observe the metrics given to ``observe()`` (if any) and return the action."""
        route, body = self._next_decision(objective)
        if not route:
            self.flush()
            route = "/decide"
        return self._decided_by(route, self._call("POST", self._path + route, body))

    def reward(self, r: float) -> float:
        """Reward the last decision; returns the TD error (NaN while deferred). Safe to
        call again on failure."""
        body = self._reward_body(r)
        if self._defers(body):
            return math.nan
        return self._rewarded(self._call("POST", self._path + "/rewards", body))

    def flush(self) -> float | None:
        """Send a deferred reward now; its TD error, or None if none was waiting."""
        if self._deferred is None:
            return None
        td_error = self._rewarded(self._call("POST", self._path + "/rewards", self._deferred))
        self._deferred = None
        return td_error

    def get_phase(self) -> str:
        """The hosted agent's phase: SOLID, LIQUID, GAS or PLASMA."""
        return str(self.info()["phase"])

    def get_metrics(self) -> dict[str, Any]:
        """The hosted agent's learning signals (``Krystal.get_metrics()``)."""
        return self._call("GET", self._path + "/metrics")

    def info(self) -> dict[str, Any]:
        """The hosted agent's spec, phase, cycle and counters."""
        return self._call("GET", self._path)

    @property
    def cycle(self) -> int:
        """Rewarded decisions the hosted agent has learned from."""
        return int(self.info()["cycle"])

    @property
    def total_reward(self) -> float:
        """Sum of the rewards the hosted agent has learned from."""
        return float(self.info()["total_reward"])

    def close(self) -> None:
        """Send a deferred reward, then close the connection pool."""
        try:
            self.flush()
        finally:
            self._http.close()

    def __enter__(self) -> RemoteKrystal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                outcome: httpx.Response | httpx.TransportError = self._http.request(
                    method, path, **self._request_kwargs(body)
                )
            except httpx.TransportError as exc:
                outcome = exc
            if not self._retry(outcome, attempt):
                return self._settle(outcome, attempt)
            time.sleep(self._delay(outcome, attempt))
            attempt += 1


class AsyncRemoteKrystal(_Remote):
    """:class:`RemoteKrystal` for asyncio: ``await k.decide()``, ``await k.reward(r)``.

    ``observe()`` stays synchronous (it only remembers the metrics) and returns the
    client, so ``await k.observe(m).decide()`` reads as in the local API.
    """

    def __init__(
        self,
        url: str,
        agent: str = "default",
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.05,
        defer_rewards: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(url, agent, api_key, timeout, retries, backoff, defer_rewards)
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=self._headers, timeout=timeout, transport=transport
        )

    async def decide(self, objective: Any = None) -> Any:
        """Observe the metrics given to ``observe()`` (if any) and return the action."""
        route, body = self._next_decision(objective)
        if not route:
            await self.flush()
            route = "/decide"
        return self._decided_by(route, await self._call("POST", self._path + route, body))

    async def reward(self, r: float) -> float:
        """Reward the last decision; returns the TD error (NaN while deferred). Safe to
        call again on failure."""
        body = self._reward_body(r)
        if self._defers(body):
            return math.nan
        return self._rewarded(await self._call("POST", self._path + "/rewards", body))

    async def flush(self) -> float | None:
        """Send a deferred reward now; its TD error, or None if none was waiting."""
        if self._deferred is None:
            return None
        answer = await self._call("POST", self._path + "/rewards", self._deferred)
        td_error = self._rewarded(answer)
        self._deferred = None
        return td_error

    async def get_phase(self) -> str:
        """The hosted agent's phase."""
        return str((await self.info())["phase"])

    async def get_metrics(self) -> dict[str, Any]:
        """The hosted agent's learning signals."""
        return await self._call("GET", self._path + "/metrics")

    async def info(self) -> dict[str, Any]:
        """The hosted agent's spec, phase, cycle and counters."""
        return await self._call("GET", self._path)

    async def aclose(self) -> None:
        """Send a deferred reward, then close the connection pool."""
        try:
            await self.flush()
        finally:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncRemoteKrystal:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                outcome: httpx.Response | httpx.TransportError = await self._http.request(
                    method, path, **self._request_kwargs(body)
                )
            except httpx.TransportError as exc:
                outcome = exc
            if not self._retry(outcome, attempt):
                return self._settle(outcome, attempt)
            await asyncio.sleep(self._delay(outcome, attempt))
            attempt += 1
