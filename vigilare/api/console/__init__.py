"""The web console: server-rendered pages under ``/app/`` on the same services as the API."""
