from django.apps import AppConfig


class AnalyticsChatConfig(AppConfig):
    name = "analytics_chat"
    verbose_name = "Analytics chat"

    def ready(self) -> None:
        from .llm import housekeeping

        housekeeping.connect()
