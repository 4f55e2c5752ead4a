"""``scenario.py`` is a script run by the parity tests, not a test module.

It imports the kernel as the top-level package ``kernel`` (a copy put on ``sys.path``
by the harness), so collecting it, e.g. with ``--doctest-modules``, would fail.
"""

collect_ignore = ["scenario.py"]
