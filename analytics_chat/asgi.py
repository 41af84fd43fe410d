"""ASGI entry point: uvicorn serves streams and notices client disconnects without a thread per client."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_chat.settings")

application = get_asgi_application()
