"""Celery adapters for the digest library: the app, its configuration and thin tasks."""
