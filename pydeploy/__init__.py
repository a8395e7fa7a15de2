"""Deploy, version, lint and test the gallery's PL/pgSQL functions.

The library entry points are in :mod:`pydeploy.api`; the ``pydeploy`` command
wraps them one to one.
"""
