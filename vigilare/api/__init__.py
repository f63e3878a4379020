"""The HTTP API: application assembly and the pieces every domain's routes share."""
