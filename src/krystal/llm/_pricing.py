"""What a request cost: a price table the user can override, and a running total.

:data:`DEFAULT_PRICES` holds list prices in US dollars per million tokens (input, output)
for well-known models of OpenAI, Anthropic and Gemini, **as published when this table was
written (see :data:`PRICES_WRITTEN`)**. Providers change prices, add tiers (long prompts,
batch, cached input) and rename models; this table knows none of that. Treat it as a
default: check it against the providers' pricing pages and pass your own through
``LLMClient(config, prices={...})``, which is merged over it.

A model name matches the longest key it starts with, so ``gpt-4o-mini-2024-07-18`` is
priced as ``gpt-4o-mini``. Local servers (Ollama, LM Studio, vLLM, the mock) cost 0. An
API model the table does not know has an unknown cost (``None``), never a guessed one.

>>> table = PriceTable({"my-model": (1.0, 2.0)})
>>> table.cost("api", "my-model", 1_000_000, 500_000)
2.0
>>> table.cost("api", "gpt-4o-mini-2024-07-18", 1_000_000, 0)
0.15
>>> table.cost("local", "llama3.2", 10_000, 10_000), table.cost("api", "unknown-x", 1, 1)
(0.0, None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

#: when :data:`DEFAULT_PRICES` was written down; prices after that date may differ
PRICES_WRITTEN = "2025-10"


class Price(NamedTuple):
    """US dollars per million input tokens and per million output tokens."""

    input: float
    output: float


#: list prices (standard tier, short prompts) at :data:`PRICES_WRITTEN`; check and override
DEFAULT_PRICES: dict[str, Price] = {
    # OpenAI
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    # Anthropic
    "claude-opus-4": Price(15.00, 75.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-haiku-4-5": Price(1.00, 5.00),
    "claude-3-5-haiku": Price(0.80, 4.00),
    # Gemini (prompts up to 200k tokens for the pro model)
    "gemini-2.5-pro": Price(1.25, 10.00),
    "gemini-2.5-flash": Price(0.30, 2.50),
    "gemini-2.5-flash-lite": Price(0.10, 0.40),
    "gemini-2.0-flash": Price(0.10, 0.40),
}


class PriceTable:
    """:data:`DEFAULT_PRICES` with the user's ``overrides`` on top.

    ``overrides`` maps a model name (or name prefix) to a :class:`Price` or an
    ``(input, output)`` pair, both in USD per million tokens.
    """

    def __init__(self, overrides: Mapping[str, Price | tuple[float, float]] | None = None):
        self.prices = dict(DEFAULT_PRICES)
        for model, price in (overrides or {}).items():
            self.prices[model] = Price(*price)
        # longest first, so the most specific prefix wins
        self._keys = sorted(self.prices, key=len, reverse=True)

    def price(self, model: str) -> Price | None:
        """The price of ``model``: an exact key, else the longest key it starts with."""
        if model in self.prices:
            return self.prices[model]
        name = model.rsplit("/", 1)[-1]  # "models/gemini-2.5-flash"
        return next((self.prices[key] for key in self._keys if name.startswith(key)), None)

    def cost(
        self, provider_type: str, model: str, tokens_input: int, tokens_output: int
    ) -> float | None:
        """USD for one request; 0 on a local server, ``None`` when the model is unknown."""
        if str(getattr(provider_type, "value", provider_type)) == "local":
            return 0.0
        price = self.price(model)
        if price is None:
            return None
        return (tokens_input * price.input + tokens_output * price.output) / 1_000_000
