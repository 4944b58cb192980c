"""The project's URLs plus a stand-in for a crowd platform's completion page, so no test needs the network."""

from django.http import HttpResponse
from django.urls import path

from sarai_eval.urls import urlpatterns as project_urlpatterns


def platform_complete(request):
    code = request.GET.get("cc", "")
    return HttpResponse(
        f"<!doctype html><title>Platform</title><h1>Submission complete</h1><p id=cc>{code}</p>"
    )


urlpatterns = [path("platform/submissions/complete", platform_complete), *project_urlpatterns]
