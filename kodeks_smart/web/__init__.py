"""HTTP: FastAPI routers, middleware and the cabinet UI."""
