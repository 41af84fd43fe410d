"""The Celery app. Workers run one answer at a time per process: the model owns the CPU."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_chat.settings")

app = Celery("analytics_chat")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["analytics_chat.pipeline"])
