"""URL routes. Media files have no route: audio is served by views that check access."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from annotations.ratelimits import limit_sign_in

urlpatterns = [
    # Signing in counts its attempts with the admin site's (annotations/ratelimits.py).
    path("login/", limit_sign_in(auth_views.LoginView.as_view(template_name="login.html")), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("synthesis.urls")),
    path("t/", include("annotations.urls")),
    path("results/", include("annotations.results.urls")),
]
