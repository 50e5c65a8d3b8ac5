"""Storage: SQLAlchemy 2 models, the engine factory, migrations and the cabinet-scoped query layer."""
