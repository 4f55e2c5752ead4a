"""``krystal llm``: see which model servers and APIs are usable, talk to one, time them.

``status`` runs the client's auto-detection and shows every candidate; ``chat`` sends one
prompt; ``bench`` times streamed requests to every usable provider. All read the
``llm_*`` settings (config file < ``.env`` < ``KRYSTAL_LLM_*``) and let flags beat them;
API keys come only from the providers' own variables.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from krystal._errors import ConfigError, MissingExtraError
from krystal.cli._config_cmd import ConfigOption
from krystal.cli._console import (
    EXIT_FAILURE,
    fail,
    load_settings,
    number,
    print_json,
    stderr,
    stdout,
)

if TYPE_CHECKING:
    from krystal.llm import Candidate, LLMClient, LLMConfig

_T = TypeVar("_T")

llm_app = typer.Typer(
    help=(
        "Find and use language models: local servers (Ollama, LM Studio, vLLM) and APIs "
        "(OpenAI, Anthropic, Gemini).\n\n"
        "Settings, lowest priority first: defaults < config file (llm_provider, llm_model, "
        "llm_base_url, llm_max_tokens, llm_temperature, llm_timeout) < .env < KRYSTAL_LLM_* "
        "variables < flags. Servers are also found through OLLAMA_HOST, LMSTUDIO_HOST, "
        "VLLM_HOST; API keys come only from OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY."
    ),
    no_args_is_help=True,
)

_PROVIDER_NAMES = ("auto", "openai", "lmstudio", "vllm", "ollama", "anthropic", "gemini", "mock")


def _check_provider(value: str | None) -> str | None:
    if value is None:
        return None
    name = value.strip().lower()
    if name not in _PROVIDER_NAMES:
        raise typer.BadParameter(
            f"unknown provider {value!r}; expected one of {', '.join(_PROVIDER_NAMES)}"
        )
    return name


def _check_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise typer.BadParameter(f"got {value!r}, expected an http:// or https:// URL")
    return value


def _client(config_path: Path | None, **flags: Any) -> LLMClient:
    """The client: settings (fallbacks, cache, rate limit, prices too) under the flags."""
    from krystal.llm import LLMClient

    return _from_settings(config_path, LLMClient.from_settings, flags)


def _client_config(config_path: Path | None, **flags: Any) -> LLMConfig:
    """The client config: settings layered under the flags that were given."""
    from krystal.llm import LLMConfig

    return _from_settings(config_path, LLMConfig.from_settings, flags)


def _from_settings(config_path: Path | None, build: Callable[..., _T], flags: dict[str, Any]) -> _T:
    """``build(settings, **flags)``; a bad setting or flag exits with its message."""
    settings = load_settings(config_path)
    try:
        return build(settings, **flags)
    except ConfigError as exc:
        fail(str(exc))


def _detection_environ(config: LLMConfig) -> dict[str, str]:
    """os.environ plus where the settings put a named provider, for :func:`detect`."""
    from krystal.llm._config import ENV

    environ = dict(os.environ)
    names = ENV.get(config.provider)
    if names is not None:
        if config.base_url:
            environ[names.host] = config.base_url
        if config.model:
            environ[names.model] = config.model
    return environ


def _reachable(candidate: Candidate, local: bool) -> bool | None:
    """Whether a probe reached the server; None for APIs, which are not probed."""
    if not local:
        return None
    return candidate.available or bool(candidate.models) or candidate.reason.startswith("up")


@llm_app.command()
def status(
    config: ConfigOption = None,
    probe_timeout: Annotated[
        float,
        typer.Option(
            "--probe-timeout", min=0.01, help="Seconds each local server may take to answer."
        ),
    ] = 0.5,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the candidates as one JSON object.")
    ] = False,
) -> None:
    """Probe every provider and show which ones are usable and which `auto` would pick.

    Local servers are probed in parallel (their model lists are shown); API providers
    count as usable when their key variable is set and are not contacted. Exit 0 when at
    least one provider is usable, 1 when none is.
    """
    llm_config = _client_config(config, probe_timeout=probe_timeout)
    try:
        from krystal.llm import detect
        from krystal.llm._config import LOCAL_PROVIDERS

        candidates = detect(llm_config, _detection_environ(llm_config))
    except (MissingExtraError, ConfigError) as exc:
        fail(str(exc))
    chosen = next((c for c in candidates if c.available), None)
    configured = llm_config.provider
    rows = [
        {
            "name": c.name,
            "kind": "local" if c.name in LOCAL_PROVIDERS else "api",
            "base_url": c.base_url,
            "reachable": _reachable(c, c.name in LOCAL_PROVIDERS),
            "usable": c.available,
            "model": c.model,
            "models": list(c.models),
            "reason": c.reason,
        }
        for c in candidates
    ]
    if as_json:
        print_json(
            {
                "configured_provider": configured,
                "auto_choice": None if chosen is None else chosen.name,
                "usable": chosen is not None,
                "candidates": rows,
            }
        )
    else:
        _render_status(rows, configured, chosen)
    if chosen is None:
        raise typer.Exit(EXIT_FAILURE)


def _render_status(rows: list[dict[str, Any]], configured: str, chosen: Candidate | None) -> None:
    table = Table(title="LLM providers, in auto-detection order", title_justify="left")
    for column in ("provider", "kind", "base URL", "reachable", "models", "usable", "why"):
        table.add_column(column)
    for row in rows:
        reachable = {True: "[green]yes[/]", False: "[red]no[/]", None: "[dim]not probed[/]"}
        models = ", ".join(row["models"][:5]) + (" …" if len(row["models"]) > 5 else "")
        mark = " [bold](configured)[/]" if row["name"] == configured else ""
        table.add_row(
            escape(row["name"]) + mark,
            row["kind"],
            escape(row["base_url"] or "-"),
            reachable[row["reachable"]],
            escape(models or "-"),
            f"[green]yes[/] ({escape(row['model'])})" if row["usable"] else "[red]no[/]",
            escape(row["reason"]),
        )
    console = stdout()
    console.print(table)
    if chosen is None:
        console.print(
            "auto would pick: [red]none[/] — start a local server (ollama serve, LM Studio, "
            "vllm serve) or set an API key such as OPENAI_API_KEY"
        )
    else:
        console.print(
            f"auto would pick: [bold]{escape(chosen.name)}[/] "
            f"(model {escape(chosen.model)} at {escape(chosen.base_url)})"
        )
    if configured != "auto":
        console.print(f"configured provider: [bold]{escape(configured)}[/] (used instead of auto)")


@llm_app.command()
def chat(
    prompt: Annotated[str, typer.Argument(help="What to ask the model.")],
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider",
            "-p",
            metavar="|".join(_PROVIDER_NAMES),
            callback=_check_provider,
            help="Provider to use (default: llm_provider setting, else auto-detection).",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model name (default: setting, then provider's)."),
    ] = None,
    system: Annotated[
        str | None, typer.Option("--system", "-s", help="System prompt sent before PROMPT.")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url", callback=_check_url, help="Base URL of the provider's server or API."
        ),
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Most tokens the answer may use.")
    ] = None,
    temperature: Annotated[
        float | None,
        typer.Option("--temperature", "-t", min=0.0, max=2.0, help="Sampling temperature."),
    ] = None,
    stream: Annotated[
        bool, typer.Option("--stream", help="Print the answer as it arrives.")
    ] = False,
    config: ConfigOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object: content, provider, model, tokens, latency, finish.",
        ),
    ] = False,
) -> None:
    """Send PROMPT to a model and print the answer.

    Errors from the provider (unreachable server, bad key, rate limit, unknown model)
    are printed on stderr and exit 1.
    """
    llm_client = _client(
        config,
        provider=provider,
        model=model,
        base_url=base_url,
        max_tokens=max_tokens,
        temperature=temperature,
    )
    try:
        from krystal.llm import LLMError, Message

        messages = [Message("system", system)] if system else []
        messages.append(Message("user", prompt))
        with llm_client as client:
            if stream:
                result = _stream(client, messages, echo=not as_json)
            else:
                response = client.complete(messages)
                result = {
                    "content": response.content,
                    "provider": response.provider,
                    "provider_type": response.provider_type.value,
                    "model": response.model,
                    "tokens_input": response.tokens_input,
                    "tokens_output": response.tokens_output,
                    "tokens_total": response.tokens_total,
                    "latency_ms": response.latency_ms,
                    "finish_reason": response.finish_reason,
                    "stream": False,
                }
    except (LLMError, MissingExtraError, ConfigError) as exc:
        fail(str(exc))
    if as_json:
        print_json(result)
    elif not stream:
        typer.echo(result["content"])
    if not as_json:
        stderr().print(
            f"[dim]{escape(result['provider'])} · {escape(result['model'])} · "
            f"{number(result['tokens_input'])} in / {number(result['tokens_output'])} out · "
            f"{number(result['latency_ms'], 3)} ms · {escape(str(result['finish_reason']))}[/]"
        )


def _stream(client: Any, messages: list[Any], *, echo: bool) -> dict[str, Any]:
    """Stream the answer (echoing text as it arrives) and return the same summary."""
    started = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    final = None
    for event in client.stream_events(messages):
        if event.text:
            if first is None:
                first = time.perf_counter()
            parts.append(event.text)
            if echo:
                typer.echo(event.text, nl=False)
        if event.done:
            final = event
    if echo:
        typer.echo()
    usage = final.usage if final is not None else None
    backend = client.backend
    return {
        "content": "".join(parts),
        "provider": backend.provider.name,
        "provider_type": backend.provider.provider_type.value,
        "model": (final.model if final is not None and final.model else backend.model),
        "tokens_input": usage.input_tokens if usage else None,
        "tokens_output": usage.output_tokens if usage else None,
        "tokens_total": usage.input_tokens + usage.output_tokens if usage else None,
        "latency_ms": (time.perf_counter() - started) * 1000,
        "time_to_first_token_ms": None if first is None else (first - started) * 1000,
        "finish_reason": final.finish_reason if final is not None else None,
        "stream": True,
    }


_BENCH_PROVIDERS = ("ollama", "lmstudio", "vllm", "openai", "anthropic", "gemini")
_BENCH_PROMPT = "In one sentence, what is a benchmark?"


def _check_bench_provider(value: str | None) -> str | None:
    if value is None:
        return None
    name = value.strip().lower()
    if name not in _BENCH_PROVIDERS:
        raise typer.BadParameter(
            f"unknown provider {value!r}; expected one of {', '.join(_BENCH_PROVIDERS)}"
        )
    return name


@llm_app.command()
def bench(
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider",
            "-p",
            metavar="|".join(_BENCH_PROVIDERS),
            callback=_check_bench_provider,
            help="Time only this provider (default: every usable one).",
        ),
    ] = None,
    requests: Annotated[
        int, typer.Option("--requests", "-n", min=1, help="Streamed requests per provider.")
    ] = 5,
    prompt: Annotated[
        str, typer.Option("--prompt", help="The prompt every request sends.")
    ] = _BENCH_PROMPT,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Most tokens each answer may use.")
    ] = None,
    probe_timeout: Annotated[
        float,
        typer.Option(
            "--probe-timeout", min=0.01, help="Seconds each local server may take to answer."
        ),
    ] = 0.5,
    config: ConfigOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the results as one JSON object.")
    ] = False,
) -> None:
    """Time streamed requests to each usable provider (as `llm status` finds them).

    Per provider, N requests in sequence, each streamed: latency (request to the final
    event), time to first token (request to the first text), and tokens per second
    (the output tokens of the final usage over the latency); medians are shown. API
    providers whose key is set are called for real and bill the tokens. Exit 1 when
    no provider is usable (with each reason) or any request failed.
    """
    llm_config = _client_config(
        config, probe_timeout=probe_timeout, provider=provider, max_tokens=max_tokens
    )
    try:
        from krystal.llm import detect

        candidates = detect(llm_config, _detection_environ(llm_config))
    except (MissingExtraError, ConfigError) as exc:
        fail(str(exc))
    if provider is not None:
        candidates = [c for c in candidates if c.name == provider]
    usable = [c for c in candidates if c.available]
    unusable = [{"name": c.name, "reason": c.reason} for c in candidates if not c.available]
    if not usable:
        if as_json:
            print_json(
                {"prompt": prompt, "requests": requests, "providers": [], "unusable": unusable}
            )
        fail(f"no LLM provider is usable. Tried {_reasons(unusable)}")
    if as_json:
        rows = [_bench_provider(llm_config, c, prompt, requests, None) for c in usable]
    else:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=stderr(),
            transient=True,
        ) as progress:
            task = progress.add_task("benchmarking", total=requests * len(usable))
            rows = []
            for candidate in usable:
                progress.update(task, description=f"benchmarking {candidate.name}")
                rows.append(
                    _bench_provider(
                        llm_config,
                        candidate,
                        prompt,
                        requests,
                        lambda: progress.advance(task),
                    )
                )
    if as_json:
        print_json(
            {"prompt": prompt, "requests": requests, "providers": rows, "unusable": unusable}
        )
    else:
        _render_bench(rows, unusable, requests)
    if any(row["error"] for row in rows):
        raise typer.Exit(EXIT_FAILURE)


def _bench_provider(
    base: LLMConfig, candidate: Candidate, prompt: str, requests: int, on_request: Any
) -> dict[str, Any]:
    """``requests`` streamed requests to one provider; stops at the first failure."""
    from krystal.llm import LLMClient, LLMError

    config = dataclasses.replace(
        base, provider=candidate.name, base_url=candidate.base_url, model=candidate.model
    )
    runs: list[dict[str, Any]] = []
    error = None
    with LLMClient(config) as client:
        for _ in range(requests):
            try:
                runs.append(_timed_stream(client, prompt))
            except LLMError as exc:
                error = str(exc)
            if on_request is not None:
                on_request()
            if error is not None:
                break
    model = next((run["model"] for run in reversed(runs) if run["model"]), candidate.model)

    def median(key: str) -> float | None:
        values = [run[key] for run in runs if run[key] is not None]
        return statistics.median(values) if values else None

    return {
        "name": candidate.name,
        "model": model,
        "base_url": candidate.base_url,
        "requests": len(runs),
        "latency_ms": median("latency_ms"),
        "time_to_first_token_ms": median("time_to_first_token_ms"),
        "tokens_per_second": median("tokens_per_second"),
        "tokens_output": median("tokens_output"),
        "error": error,
        "runs": runs,
    }


def _timed_stream(client: Any, prompt: str) -> dict[str, Any]:
    """One streamed request: latency, time to first token, output tokens and their rate."""
    started = time.perf_counter()
    first: float | None = None
    final = None
    for event in client.stream_events(prompt):
        if event.text and first is None:
            first = time.perf_counter()
        if event.done:
            final = event
    seconds = time.perf_counter() - started
    usage = final.usage if final is not None else None
    tokens = usage.output_tokens if usage is not None else None
    return {
        "latency_ms": seconds * 1000,
        "time_to_first_token_ms": None if first is None else (first - started) * 1000,
        "tokens_output": tokens,
        "tokens_per_second": tokens / seconds if tokens is not None and seconds > 0 else None,
        "model": final.model if final is not None else "",
    }


def _render_bench(rows: list[dict[str, Any]], unusable: list[dict[str, Any]], n: int) -> None:
    table = Table(
        title=f"LLM providers, medians of {n} streamed requests each", title_justify="left"
    )
    table.add_column("provider")
    table.add_column("model")
    table.add_column("requests", justify="right")
    table.add_column("latency ms", justify="right")
    table.add_column("first token ms", justify="right")
    table.add_column("tokens/s", justify="right")
    table.add_column("output tokens", justify="right")
    table.add_column("error")
    for row in rows:
        table.add_row(
            escape(row["name"]),
            escape(row["model"] or "-"),
            f"{row['requests']}/{n}",
            number(row["latency_ms"]),
            number(row["time_to_first_token_ms"]),
            number(row["tokens_per_second"]),
            number(row["tokens_output"]),
            f"[red]{escape(row['error'])}[/]" if row["error"] else "",
        )
    console = stdout()
    console.print(table)
    if unusable:
        console.print(f"[dim]not usable: {escape(_reasons(unusable))}[/]")


def _reasons(unusable: list[dict[str, Any]]) -> str:
    """``name: reason; ...`` (local servers' reasons already start with their name)."""
    return "; ".join(
        row["reason"]
        if row["reason"].startswith(f"{row['name']}:")
        else f"{row['name']}: {row['reason']}"
        for row in unusable
    )
