"""Researchers' results pages under /results/: dashboards, their live feeds and the exports."""

from django.urls import path

from annotations.results import views
from synthesis.results import views as run_views

app_name = "results"
urlpatterns = [
    path("", views.index, name="index"),
    path("tests/<int:pk>/", views.test_dashboard, name="test"),
    path("tests/<int:pk>/live/", views.test_live, name="test_live"),
    path("tests/<int:pk>/analyse/", views.test_analyse, name="test_analyse"),
    path("tests/<int:pk>/ratings.csv", views.test_ratings_csv, name="test_ratings_csv"),
    path("tests/<int:pk>/summary.csv", views.test_summary_csv, name="test_summary_csv"),
    path("tests/<int:pk>/summary.json", views.test_summary_json, name="test_summary_json"),
    path("tests/<int:pk>/measurements.csv", views.test_measurements_csv, name="test_measurements_csv"),
    path("tests/<int:pk>/marks.csv", views.test_marks_csv, name="test_marks_csv"),
    path("tests/<int:pk>/report.html", views.test_report, name="test_report"),
    path("runs/<int:pk>/", views.run_dashboard, name="run"),
    path("runs/<int:pk>/live/", views.run_live, name="run_live"),
    path("runs/<int:pk>/measurements.csv", views.run_measurements_csv, name="run_measurements_csv"),
    path("runs/<int:pk>/wer/", run_views.wer_run_table, name="wer_run_table"),
    path("runs/<int:pk>/iterations/", run_views.iteration_run_table, name="iteration_run_table"),
    path("runs/<int:pk>/wer/<int:transcript_pk>/", run_views.wer_alignment, name="wer_alignment"),
    path("wer/compare/", run_views.wer_compare, name="wer_compare"),
    path("claims/", views.claims_page, name="claims"),
    path("claims.json", views.claims_json, name="claims_json"),
    path("claims/report.html", views.claims_report, name="claims_report"),
]
