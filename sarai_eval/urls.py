"""URL routes. Media files have no route: audio is served by views that check access."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("synthesis.urls")),
    path("t/", include("annotations.urls")),
    path("results/", include("annotations.results.urls")),
]
