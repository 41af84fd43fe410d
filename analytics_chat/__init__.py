"""The analytics chat service: project settings, Celery app, chat models, REST API and answer pipeline."""

from .celery import app as celery_app

__all__ = ["celery_app"]
