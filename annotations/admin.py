from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html

from annotations import ratelimits, services
from annotations.models import (
    Analysis,
    ArtifactMark,
    Assignment,
    ClipFetch,
    Evaluator,
    ListeningTest,
    Rating,
    RequestCount,
    Scale,
    ScreenTrial,
    TestSample,
    Trial,
    TrialClip,
)


class ScaleForm(forms.ModelForm):
    """Scale.clean checks the labels against the range; this only tidies them."""

    class Meta:
        model = Scale
        fields = ["name", "title", "language", "min_value", "max_value", "labels"]

    def clean_labels(self):
        labels = self.cleaned_data["labels"]
        if isinstance(labels, list):
            return [label.strip() if isinstance(label, str) else label for label in labels]
        return labels


@admin.register(Scale)
class ScaleAdmin(admin.ModelAdmin):
    form = ScaleForm
    list_display = ["name", "title", "language", "min_value", "max_value", "labels"]
    list_filter = ["language"]
    search_fields = ["name", "title"]


class TestSampleInline(admin.TabularInline):
    model = TestSample
    extra = 0
    fields = ["sample", "kind", "role", "token", "expected_score", "instructed_score", "playback_lufs"]
    # Clips come only from create_test, which writes their playback copies; swapping a sample here
    # would store ratings against audio the evaluators never heard.
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ListeningTest)
class ListeningTestAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "state",
        "method",
        "language",
        "scale",
        "clip_count",
        "evaluator_count",
        "finished_count",
        "rating_count",
        "ratings_per_sample",
        "created_at",
    ]
    list_filter = ["state", "method", "language", "scale"]
    search_fields = ["name", "description"]
    # The reference and the anchor made the test's clips; changing them afterwards would not remake them.
    readonly_fields = [
        "links",
        "open_token",
        "completion_code",
        "reference_system",
        "with_anchor",
        "artifact_labels",
    ]
    inlines = [TestSampleInline]
    actions = ["open_tests", "close_tests"]
    change_list_template = "admin/annotations/listeningtest/change_list.html"

    @admin.display(description="links")
    def links(self, obj):
        if not obj.pk:
            return "-"
        manage = reverse("annotations:test_detail", args=[obj.pk])
        return format_html('<a href="{}">Test page with invite links</a>', manage)

    @admin.action(description="Open the selected tests to evaluators")
    def open_tests(self, request, queryset):
        count = queryset.update(state=ListeningTest.State.OPEN)
        messages.success(request, f"Opened {count} test{pluralize(count)}.")

    @admin.action(description="Close the selected tests")
    def close_tests(self, request, queryset):
        count = queryset.update(state=ListeningTest.State.CLOSED)
        messages.success(request, f"Closed {count} test{pluralize(count)}.")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("scale")
            .annotate(
                n_clips=Count("test_samples", distinct=True),
                n_evaluators=Count("evaluators", distinct=True),
                n_finished=Count(
                    "evaluators", filter=Q(evaluators__finished_at__isnull=False), distinct=True
                ),
                n_ratings=Count("evaluators__ratings", distinct=True),
            )
        )

    @admin.display(ordering="n_clips", description="clips")
    def clip_count(self, obj):
        return obj.n_clips

    @admin.display(ordering="n_evaluators", description="evaluators")
    def evaluator_count(self, obj):
        return obj.n_evaluators

    @admin.display(ordering="n_finished", description="finished")
    def finished_count(self, obj):
        return obj.n_finished

    @admin.display(ordering="n_ratings", description="ratings")
    def rating_count(self, obj):
        return obj.n_ratings


@admin.register(TestSample)
class TestSampleAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "test",
        "kind",
        "role",
        "sample",
        "expected_score",
        "instructed_score",
        "playback_lufs",
    ]
    list_filter = ["kind", "role", "test"]
    search_fields = ["token", "sample__text"]
    list_select_related = ["test", "sample"]
    readonly_fields = [
        "test",
        "sample",
        "kind",
        "role",
        "token",
        "open_token",
        "playback_audio",
        "playback_lufs",
        "expected_score",
        "instructed_score",
    ]

    def has_add_permission(self, request):
        return False


class ScreenTrialInline(admin.TabularInline):
    model = ScreenTrial
    extra = 0
    fields = ["attempt", "number", "quiet_position", "antiphase_position", "answer", "answered_at"]
    # The evaluator's own answers: a record of the screen, not something to edit.
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ScreenTrial)
class ScreenTrialAdmin(admin.ModelAdmin):
    list_display = ["evaluator", "attempt", "number", "quiet_position", "answer", "answered_at"]
    list_filter = ["evaluator__test", "attempt"]
    list_select_related = ["evaluator__test"]
    readonly_fields = ScreenTrialInline.fields

    def has_add_permission(self, request):
        return False


@admin.register(Evaluator)
class EvaluatorAdmin(admin.ModelAdmin):
    list_display = [
        "pseudonym",
        "test",
        "external_id",
        "consented_at",
        "checked_at",
        "screened_out_at",
        "finished_at",
        "revoked_at",
        "rating_count",
        "invite_link",
    ]
    list_filter = [
        "test",
        ("finished_at", admin.EmptyFieldListFilter),
        ("revoked_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["pseudonym", "external_id", "study_id", "session_id"]
    # Revoking goes through the action (services.revoke_evaluator), which notes who and when.
    readonly_fields = ["token", "invite_link", "revoked_at", "revoked_by"]
    list_select_related = ["test"]
    inlines = [ScreenTrialInline]
    actions = ["revoke_invite_links"]

    @admin.action(description="Revoke the selected invite links (ratings are kept)", permissions=["change"])
    def revoke_invite_links(self, request, queryset):
        count = sum(services.revoke_evaluator(evaluator=evaluator, by=request.user) for evaluator in queryset)
        messages.success(request, f"Revoked {count} invite link{pluralize(count)}.")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_ratings=Count("ratings"))

    @admin.display(ordering="n_ratings", description="ratings")
    def rating_count(self, obj):
        return obj.n_ratings

    @admin.display(description="invite link")
    def invite_link(self, obj):
        if not obj.pk:
            return "-"
        return reverse("annotations:session", args=[obj.token])


class TrialClipInline(admin.TabularInline):
    model = TrialClip
    extra = 0
    fields = ["test_sample", "role", "position"]
    # Trials are built with the test; changing one would mix answers to different clips.
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    list_display = ["id", "test", "kind", "repeat_of"]
    list_filter = ["kind", ("repeat_of", admin.EmptyFieldListFilter), "test"]
    list_select_related = ["test", "repeat_of"]
    readonly_fields = ["test", "kind", "repeat_of"]
    inlines = [TrialClipInline]

    def has_add_permission(self, request):
        return False


@admin.register(TrialClip)
class TrialClipAdmin(admin.ModelAdmin):
    list_display = ["trial", "position", "role", "test_sample"]
    list_filter = ["trial__test"]
    list_select_related = ["trial__test", "test_sample"]
    readonly_fields = ["trial", "test_sample", "role", "position"]

    def has_add_permission(self, request):
        return False


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["evaluator", "position", "trial"]
    list_filter = ["evaluator__test"]
    raw_id_fields = ["evaluator", "trial"]
    list_select_related = ["evaluator__test", "trial__test"]


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = [
        "evaluator",
        "sample",
        "dimension",
        "score",
        "short_transcript",
        "played_to_end",
        "play_count",
        "time_to_answer_ms",
        "fetch_count",
        "received_at",
        "created_at",
    ]
    list_filter = ["dimension", "score", "played_to_end", "evaluator__test"]
    search_fields = ["evaluator__pseudonym", "evaluator__external_id"]
    raw_id_fields = ["evaluator", "sample", "test_sample", "trial"]
    list_select_related = ["evaluator__test", "sample"]
    date_hierarchy = "created_at"

    @admin.display(description="transcript")
    def short_transcript(self, obj):
        return obj.transcript if len(obj.transcript) <= 60 else obj.transcript[:59] + "…"


@admin.register(ClipFetch)
class ClipFetchAdmin(admin.ModelAdmin):
    """Read-only: each row is one audio request the server answered, the evidence behind a rating."""

    list_display = [
        "evaluator",
        "test_sample",
        "started_at",
        "bytes_from",
        "bytes_to",
        "size",
        "complete",
        "labelled_reference",
    ]
    list_filter = ["complete", "labelled_reference", "evaluator__test"]
    search_fields = ["evaluator__pseudonym", "test_sample__token"]
    list_select_related = ["evaluator__test", "test_sample__test"]
    readonly_fields = [field.name for field in ClipFetch._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RequestCount)
class RequestCountAdmin(admin.ModelAdmin):
    """Read-only: the rate limits' counts per minute (digests: no token or participant id is stored)."""

    list_display = ["digest", "minute", "count"]
    ordering = ["-minute", "-count"]
    readonly_fields = ["digest", "minute", "count"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ArtifactMark)
class ArtifactMarkAdmin(admin.ModelAdmin):
    """Marks arrive with an evaluator's answer (checked there); editable here like ratings."""

    list_display = ["evaluator", "test_sample", "start_s", "end_s", "label", "created_at"]
    list_filter = ["label", "evaluator__test"]
    search_fields = ["evaluator__pseudonym", "test_sample__token"]
    list_select_related = ["evaluator__test", "test_sample__test"]
    raw_id_fields = ["evaluator", "trial", "test_sample"]


@admin.register(Analysis)
class AnalysisAdmin(admin.ModelAdmin):
    """Read-only: analyses are queued from the dashboard and claimed by workers."""

    list_display = ("test", "status", "n_ratings", "seconds", "claimed_by", "finished_at")
    list_filter = ("status",)
    readonly_fields = [field.name for field in Analysis._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# The admin builds its URLs from site.login when the URLconf loads, after this module is imported.
admin.site.login = ratelimits.limit_sign_in(admin.site.login)
