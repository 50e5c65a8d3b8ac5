"""Grafana for PostgreSQL deployments: dashboards as code, provisioning files, cabinet roles."""
