from django.urls import path

from . import sources, views

urlpatterns = [
    path("chat/generate", views.GenerateView.as_view(), name="chat-generate"),
    path("chat/messages/<uuid:message_uuid>", views.MessageView.as_view(), name="chat-message"),
    path("chat/messages/<uuid:message_uuid>/abort", views.AbortView.as_view(), name="chat-abort"),
    path(
        "chat/messages/<uuid:message_uuid>/thread",
        views.MessageThreadView.as_view(),
        name="chat-message-thread",
    ),
    path("chat/messages/<uuid:message_uuid>/feedback", views.FeedbackView.as_view(), name="chat-feedback"),
    path(
        "chat/messages/<uuid:message_uuid>/chart.svg",
        views.ChartView.as_view(),
        {"fmt": "svg"},
        name="chat-chart-svg",
    ),
    path(
        "chat/messages/<uuid:message_uuid>/chart.png",
        views.ChartView.as_view(),
        {"fmt": "png"},
        name="chat-chart-png",
    ),
    path("chat/messages/<uuid:message_uuid>/data.csv", views.DataCsvView.as_view(), name="chat-data-csv"),
    path("chat/threads", views.ThreadsView.as_view(), name="chat-threads"),
    path("chat/threads/import", views.ThreadImportView.as_view(), name="chat-thread-import"),
    path("chat/threads/<uuid:root_uuid>", views.ThreadView.as_view(), name="chat-thread"),
    path("chat/threads/<uuid:root_uuid>/export", views.ThreadExportView.as_view(), name="chat-thread-export"),
    path("chat/messages/<uuid:message_uuid>/rerun", views.RerunView.as_view(), name="chat-rerun"),
    path("sources", views.SourcesView.as_view(), name="sources"),
    path("sources/uploads", sources.UploadView.as_view(), name="source-uploads"),
    path("sources/uploads/<str:upload_id>", sources.UploadImportView.as_view(), name="source-upload"),
    path("sources/<slug:name>", sources.SourceDetailView.as_view(), name="source-detail"),
    path("sources/<slug:name>/suggestions", sources.SuggestionsView.as_view(), name="source-suggestions"),
    path("models", views.ModelsView.as_view(), name="models"),
]
