"""``krystal serve``: run the service (API, and the dashboard when installed) under uvicorn.

Settings, lowest priority first: defaults < config file (``server_host``, ``server_port``,
``server_db``, ``server_auth``, ``server_reward_wait``, ``server_default_reward``) <
``.env`` < ``KRYSTAL_SERVER_*`` variables < flags.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

import krystal
from krystal._errors import ConfigError, MissingExtraError
from krystal.cli._config_cmd import ConfigOption
from krystal.cli._console import EXIT_USAGE, fail, load_settings, stdout


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default 127.0.0.1, this machine only).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
    db: Annotated[
        str | None,
        typer.Option(
            help="Database URL: sqlite:///path.db (default sqlite:///krystal.db) or "
            "postgresql+psycopg://user:password@host:5432/dbname."
        ),
    ] = None,
    auth: Annotated[
        bool | None,
        typer.Option(
            "--auth/--no-auth",
            help="Require API keys (create one with `krystal keys create`). Needed to bind "
            "anything but a loopback address.",
        ),
    ] = None,
    reload: Annotated[
        bool, typer.Option("--reload", help="Restart when the source changes (development).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Serve hosted agents over HTTP: the /v1 API, the earlier /api endpoints, /health,
    /metrics and the API docs at /docs. One process: agents live in its memory, and one
    service at a time may serve a database (a second one is refused).
    """
    settings = load_settings(config)
    try:
        from krystal.server import ServerSettings
        from krystal.storage import normalise_url

        server = ServerSettings.from_settings(settings, host=host, port=port, db=db, auth=auth)
        server.check_bind()
        normalise_url(server.db)
        import uvicorn
    except MissingExtraError as exc:
        fail(str(exc))
    except ImportError:
        fail('serving needs uvicorn, which is not installed: pip install "krystal-sdk[server]"')
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    _refuse_if_served(server.db)
    base = f"http://{_url_host(server.host)}:{server.port}"
    stdout().print(
        f"Krystal service on {base} — dashboard {base}/ · API docs {base}/docs · "
        f"database {_hide_password(server.db)} · auth {'on' if server.auth else 'off'}",
        soft_wrap=True,
    )
    log_level = settings.log_level.lower()
    if reload:
        os.environ.update(
            {
                "KRYSTAL_SERVER_DB": server.db,
                "KRYSTAL_SERVER_HOST": server.host,
                "KRYSTAL_SERVER_PORT": str(server.port),
                "KRYSTAL_SERVER_AUTH": str(server.auth).lower(),
                "KRYSTAL_SERVER_REWARD_WAIT": str(server.reward_wait),
                "KRYSTAL_SERVER_DEFAULT_REWARD": str(server.default_reward),
                "KRYSTAL_SERVER_MAX_BODY": str(server.max_body),
            }
        )
        uvicorn.run(
            "krystal.server:create_app_from_environment",
            factory=True,
            host=server.host,
            port=server.port,
            reload=True,
            # The package's own source, and the current folder (a config file there).
            reload_dirs=[str(Path(krystal.__file__).resolve().parent), os.getcwd()],
            log_level=log_level,
        )
        return
    from krystal.server import create_app

    try:
        app = create_app(server)
    except ConfigError as exc:
        fail(str(exc))
    # No access log: one line per decision would cost more than the decision itself.
    uvicorn.run(app, host=server.host, port=server.port, log_level=log_level, access_log=False)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _hide_password(url: str) -> str:
    from krystal.storage import normalise_url

    try:
        return str(normalise_url(url).render_as_string(hide_password=True))
    except ConfigError:
        return url


def _refuse_if_served(db: str) -> None:
    """Exit with the reason when ``db`` cannot be opened or another service serves it.

    The service takes the database's lease itself when it starts (so two started at the
    same moment are still told apart); asking here first gives the plain message
    instead of a failed application start-up.
    """
    from krystal.storage import DatabaseInUseError, ServingLease, Storage

    try:
        storage = Storage(db)
    except Exception as exc:
        fail(f"db: cannot open {_hide_password(db)}: {exc}")
    try:
        ServingLease.take(storage).release()
    except DatabaseInUseError as exc:
        fail(str(exc))
    finally:
        storage.close()
