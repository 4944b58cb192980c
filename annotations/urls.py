"""Evaluator pages under /t/i/<evaluator token>/ and /t/o/<open token>/; researcher pages under /t/manage/."""

from django.urls import path

from annotations import views

app_name = "annotations"
urlpatterns = [
    path("o/<str:token>/", views.open_link, name="open_link"),
    path("i/<str:token>/", views.session, name="session"),
    path("i/<str:token>/consent/", views.consent, name="consent"),
    path("i/<str:token>/check/", views.check, name="check"),
    path("i/<str:token>/check.wav", views.check_audio, name="check_audio"),
    path("i/<str:token>/training/", views.training, name="training"),
    path("i/<str:token>/rate/", views.rate, name="rate"),
    path("i/<str:token>/finish/", views.finish, name="finish"),
    path("i/<str:token>/screened-out/", views.screened_out, name="screened_out"),
    path("i/<str:token>/a/<str:clip>.wav", views.clip_audio, name="clip_audio"),
    path("manage/", views.test_list, name="test_list"),
    path("manage/new/", views.test_new, name="test_new"),
    path("manage/import/", views.sample_import, name="sample_import"),
    path("manage/<int:pk>/", views.test_detail, name="test_detail"),
    path("manage/<int:pk>/invite/", views.test_invite, name="test_invite"),
    path(
        "manage/<int:pk>/evaluators/<int:evaluator_pk>/revoke/",
        views.evaluator_revoke,
        name="evaluator_revoke",
    ),
]
