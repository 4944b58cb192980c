from django.urls import path

from synthesis import views

app_name = "synthesis"
urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("runs/new/", views.run_new, name="run_new"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/samples/", views.run_samples, name="run_samples"),
    path("runs/<int:pk>/progress.json", views.run_progress, name="run_progress"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/retry/", views.run_retry, name="run_retry"),
    path("samples/<int:pk>/audio.wav", views.sample_audio, name="sample_audio"),
    path("utterances/<int:pk>/audio", views.utterance_audio, name="utterance_audio"),
]
