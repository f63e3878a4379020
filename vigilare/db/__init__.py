"""Database access: models' base, engine and session factory, tenant scoping, migrations."""
