from django.urls import path

from synthesis import views

app_name = "synthesis"
urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
]
