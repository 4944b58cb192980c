"""Pages for admins and researchers: runs, samples and their measurements."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from synthesis.models import SynthesisRun


@login_required
def home(request):
    runs = SynthesisRun.objects.select_related("config").order_by("-created_at")[:20]
    return render(request, "synthesis/home.html", {"runs": runs})


def healthz(request):
    """Liveness for scripts: answers once the app and its database respond."""
    SynthesisRun.objects.exists()
    return HttpResponse("ok", content_type="text/plain")
