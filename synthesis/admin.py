from django.contrib import admin, messages
from django.db.models import Count
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from synthesis.datasets import DatasetImportError, import_dataset, report_lines
from synthesis.forms import AudioUploadForm, DatasetImportForm, SentenceImportForm
from synthesis.importing import SentenceFileError
from synthesis.models import (
    PipelineConfig,
    RunItem,
    Sample,
    Sentence,
    SentenceSet,
    SpeechDataset,
    StylePreset,
    SynthesisRun,
    TimedIteration,
    Transcript,
    Utterance,
)
from synthesis.services import import_sentences


class SentenceInline(admin.TabularInline):
    model = Sentence
    form = AudioUploadForm
    extra = 0
    fields = ["position", "text", "language", "tags", "reference_audio"]


@admin.register(SentenceSet)
class SentenceSetAdmin(admin.ModelAdmin):
    list_display = ["name", "sentence_count", "created_at"]
    search_fields = ["name", "description"]
    inlines = [SentenceInline]
    actions = ["queue_run"]
    change_list_template = "admin/synthesis/sentenceset/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_sentences=Count("sentences"))

    # Each inline row posts six fields; Django refuses a form of more than
    # DATA_UPLOAD_MAX_NUMBER_FIELDS (1000), so a large set (the 720 Harvard sentences) is edited
    # sentence by sentence from the link in its "sentences" field instead.
    INLINE_LIMIT = 100
    readonly_fields = ["sentences_link"]

    def get_inlines(self, request, obj):
        if obj is not None and obj.sentences.count() > self.INLINE_LIMIT:
            return []
        return self.inlines

    @admin.display(description="sentences")
    def sentences_link(self, obj):
        if obj is None or obj.pk is None:
            return "–"
        url = reverse("admin:synthesis_sentence_changelist") + f"?sentence_set__id__exact={obj.pk}"
        return format_html('<a href="{}">{} sentences</a>', url, obj.sentences.count())

    @admin.display(ordering="n_sentences", description="sentences")
    def sentence_count(self, obj):
        return obj.n_sentences

    @admin.action(description="Queue a synthesis run with the selected sets")
    def queue_run(self, request, queryset):
        query = "&".join(f"set={pk}" for pk in queryset.values_list("pk", flat=True))
        return redirect(f"{reverse('synthesis:run_new')}?{query}")

    def get_urls(self):
        extra = [
            path("import/", self.admin_site.admin_view(self.import_view), name="synthesis_sentenceset_import")
        ]
        return extra + super().get_urls()

    def import_view(self, request):
        if not self.has_add_permission(request):
            return redirect("admin:index")
        form = SentenceImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                sentence_set = import_sentences(
                    name=data["name"],
                    data=data["file"].read(),
                    filename=data["file"].name,
                    language=data["language"],
                    description=data["description"],
                )
            except SentenceFileError as exc:
                form.add_error("file", str(exc))
            else:
                count = sentence_set.sentences.count()
                messages.success(request, f"Imported {count} sentence{pluralize(count)}.")
                return redirect("admin:synthesis_sentenceset_change", sentence_set.pk)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Import sentences",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/synthesis/sentenceset/import.html", context)


@admin.register(Sentence)
class SentenceAdmin(admin.ModelAdmin):
    form = AudioUploadForm
    list_display = ["__str__", "text", "language", "tags"]
    list_filter = ["language", "sentence_set"]
    search_fields = ["text"]
    list_select_related = ["sentence_set"]


@admin.register(StylePreset)
class StylePresetAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "length_scale",
        "noise_scale",
        "noise_w_scale",
        "volume",
        "espeak_pitch",
        "espeak_range",
    ]
    search_fields = ["name", "description"]


@admin.register(PipelineConfig)
class PipelineConfigAdmin(admin.ModelAdmin):
    list_display = ["name", "system_label", "stt_model", "llm_model", "tts_backend", "tts_voice"]
    list_filter = ["tts_backend", "stt_backend", "llm_backend"]
    search_fields = ["name", "system_label", "stt_model", "llm_model", "tts_voice"]
    fieldsets = [
        (None, {"fields": ["name", "system_label", "description"]}),
        (
            "Speech to text",
            {"fields": ["stt_backend", "stt_model", "stt_compute_type", "stt_threads", "stt_beam_size"]},
        ),
        (
            "Language model",
            {
                "fields": [
                    "llm_backend",
                    "llm_model",
                    "llm_system_prompt",
                    "llm_max_tokens",
                    "llm_temperature",
                    "llm_threads",
                    "llm_context_size",
                    "llm_seed",
                ]
            },
        ),
        ("Text to speech", {"fields": ["tts_backend", "tts_voice", "tts_threads"]}),
    ]


class RunItemInline(admin.TabularInline):
    model = RunItem
    extra = 0
    fields = ["sentence", "style", "status", "attempts", "claimed_by", "error"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SynthesisRun)
class SynthesisRunAdmin(admin.ModelAdmin):
    list_display = ["name", "mode", "config", "status", "progress", "created_at", "finished_at"]
    list_filter = ["status", "mode", "config"]
    search_fields = ["name", "error"]
    list_select_related = ["config"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "status",
        "total_count",
        "done_count",
        "failed_count",
        "started_at",
        "finished_at",
        "error",
        "config_snapshot",
        "style_snapshot",
        "library_versions",
        "model_files",
        "cpu_description",
    ]
    inlines = [RunItemInline]

    @admin.display(description="done / failed / total")
    def progress(self, obj):
        return format_html("{} / {} / {}", obj.done_count, obj.failed_count, obj.total_count)


@admin.register(RunItem)
class RunItemAdmin(admin.ModelAdmin):
    form = AudioUploadForm
    list_display = ["id", "run", "sentence", "style", "status", "attempts", "claimed_by", "finished_at"]
    list_filter = ["status", "style", "run"]
    search_fields = ["error", "sentence__text"]
    list_select_related = ["run", "sentence__sentence_set", "style"]
    raw_id_fields = ["run", "sentence", "utterance"]


@admin.register(Transcript)
class TranscriptAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "run",
        "utterance",
        "normalisation",
        "substitutions",
        "deletions",
        "insertions",
        "stt_ms",
    ]
    list_filter = ["normalisation", "run"]
    search_fields = ["reference", "hypothesis"]
    list_select_related = ["run", "utterance__dataset"]
    raw_id_fields = ["run", "run_item", "utterance"]


@admin.register(TimedIteration)
class TimedIterationAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "position", "kind", "label", "warmup", "contended"]
    list_filter = ["kind", "warmup", "contended", "run"]
    list_select_related = ["run"]
    raw_id_fields = ["run", "run_item"]


@admin.register(Sample)
class SampleAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "system_label",
        "style_label",
        "origin",
        "duration_s",
        "tts_ms",
        "tts_rtf",
        "wer",
        "dnsmos_ovrl",
        "loudness_lufs",
        "created_at",
    ]
    list_filter = ["origin", "system_label", "style_label", "run"]
    search_fields = ["text", "recognized_text", "source_name"]
    raw_id_fields = ["run", "run_item", "sentence"]
    list_select_related = ["run"]


def _player(obj):
    if not obj.audio:
        return "-"
    # Through the app (not the storage's URL): media is never routed by URL and S3 objects are private.
    url = reverse("synthesis:utterance_audio", args=[obj.pk])
    return format_html('<audio controls preload="none" src="{}"></audio>', url)


class UtteranceInline(admin.TabularInline):
    model = Utterance
    extra = 0
    fields = ["position", "source_name", "transcript", "language", "duration_s", "player"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="audio")
    def player(self, obj):
        return _player(obj)


@admin.register(SpeechDataset)
class SpeechDatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "source", "utterance_count", "limit", "seed", "created_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["source", "limit", "seed", "report", "created_at"]
    exclude = ["import_report"]
    inlines = [UtteranceInline]
    change_list_template = "admin/synthesis/speechdataset/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_utterances=Count("utterances"))

    @admin.display(ordering="n_utterances", description="utterances")
    def utterance_count(self, obj):
        return obj.n_utterances

    @admin.display(description="import report")
    def report(self, obj):
        if not obj.import_report:
            return "-"
        return format_html_join("", "<div>{}</div>", ((line,) for line in report_lines(obj.import_report)))

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="synthesis_speechdataset_import"), *super().get_urls()]

    def import_view(self, request):
        if not self.has_add_permission(request):
            return redirect("admin:index")
        form = DatasetImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                dataset = import_dataset(
                    name=data["name"],
                    folder=data["folder"] or None,
                    archive=data["archive"].read() if data["archive"] else None,
                    limit=data["limit"],
                    seed=data["seed"],
                    language=data["language"] or None,
                    description=data["description"],
                )
            except DatasetImportError as exc:
                form.add_error(None, str(exc))
            else:
                lines = report_lines(dataset.import_report)
                level = messages.WARNING if dataset.import_report["skipped"] else messages.SUCCESS
                messages.add_message(request, level, " ".join(lines[:1] + lines[1:6]))
                return redirect("admin:synthesis_speechdataset_change", dataset.pk)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Import a speech dataset",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/synthesis/speechdataset/import.html", context)


@admin.register(Utterance)
class UtteranceAdmin(admin.ModelAdmin):
    list_display = ["__str__", "transcript", "language", "duration_s", "sample_rate", "player"]
    list_filter = ["dataset", "language"]
    search_fields = ["transcript", "source_name", "sha256"]
    list_select_related = ["dataset"]
    readonly_fields = ["sha256", "duration_s", "sample_rate", "player"]

    @admin.display(description="audio")
    def player(self, obj):
        return _player(obj)
