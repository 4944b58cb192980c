"""The create-test form: the runs and systems whose clips are rated, the clips' roles, the settings."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.db.models import Count

from annotations import methods, multistimulus, services
from annotations.listening_check import guess_pass_probability
from annotations.models import ListeningTest, Scale, completion_conflict
from synthesis.models import Sample, SynthesisRun

ROLE_FIELDS = {"gold": "gold", "traps": "trapping", "training": "practice"}
# The method comes first: it decides how the clips listed are used (pairs take no gold or traps).
SOURCE_FIELDS = ("name", "method", "runs", "systems", "reference_system", "with_anchor", "references_as_gold")
SETTING_FIELDS = (
    "scale",
    "dimensions",
    "ratings_per_sample",
    "samples_per_session",
    "max_plays",
    "artifact_labels",
    "gold_per_session",
    "traps_per_session",
    "min_rater_overlap",
    "instructions",
    "recruitment",
    "payment",
    "language",
    "allow_open_link",
    "allow_no_participant_id",
    "platform_code",
    "completion_url",
    "screen_trials",
    "screen_pass_mark",
    "screen_retry_allowed",
    "screen_out_code",
    "screen_out_url",
    "repeat_share",
    "allow_no_preference",
    "expires_at",
    "description",
)
# Declared on the form, not read from the model: the clips' sources and roles, comma lists, and the
# three-way participant-id choice.
FORM_ONLY_FIELDS = (
    "runs",
    "systems",
    "references_as_gold",
    "dimensions",
    "artifact_labels",
    "allow_no_participant_id",
)
# Where the page asks for less than the model allows (bounds a researcher can mean), leaves a setting
# optional (clean() or the service fills in the default) or starts from another value than the model's
# default.
TEST_FIELD_OPTIONS = {
    "with_anchor": {"initial": True},
    "ratings_per_sample": {"min_value": 1, "max_value": 1000},
    "samples_per_session": {"min_value": 1, "max_value": 1000},
    "max_plays": {"required": False, "max_value": 20, "initial": methods.INTELLIGIBILITY.max_plays},
    "gold_per_session": {"max_value": 100},
    "traps_per_session": {"max_value": 100},
    "min_rater_overlap": {"min_value": 2, "max_value": 1000},
    "screen_trials": {"required": False, "min_value": 1, "max_value": 20},
    "screen_pass_mark": {"required": False, "min_value": 1, "max_value": 20},
    "repeat_share": {"required": False, "min_value": 0, "max_value": 1},
}


# What the form takes for a setting the chosen method does not read, where the model has no default.
UNREAD_VALUES = {"references_as_gold": False, "reference_system": "", "dimensions": [], "artifact_labels": []}


def _method_readers() -> dict[str, list[methods.Method]]:
    """Each setting that only some methods read (their form_fields) -> those methods."""
    readers: dict[str, list[methods.Method]] = {}
    for method in methods.METHODS.values():
        for name in method.form_fields:
            readers.setdefault(name, []).append(method)
    return readers


def _tests_of(names: tuple[str, ...]) -> str:
    """The methods named as a heading calls them: "ACR and intelligibility tests"; "" for none."""
    names = [methods.get_method(name).short_name for name in names]
    if not names:
        return ""
    listed = f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0]
    return f"{listed} tests"


def screen_guess_note(trials: int = 6, pass_mark: int = 5) -> str:
    """The chance a guessing listener passes, for the help text beside the pass mark."""
    once = guess_pass_probability(trials, pass_mark)
    retry = guess_pass_probability(trials, pass_mark, retry_allowed=True)
    return (
        f"A listener guessing at random (1 in 3 per trial) passes {pass_mark} of {trials} "
        f"with probability {100 * once:.1f} % (Woods et al. 2017); with the retry, which asks for "
        f"{trials} of {trials}, {100 * retry:.1f} %."
    )


def _test_form_field(model_field, **kwargs) -> forms.Field:
    """The model field's own form field, with the page's options (TEST_FIELD_OPTIONS)."""
    return model_field.formfield(**{**kwargs, **TEST_FIELD_OPTIONS.get(model_field.name, {})})


class CreateTestForm(forms.ModelForm):
    """A new test: the runs and imported systems to rate, clip roles ticked in the clip list, settings.

    The clip list holds the samples of the runs and systems in the data (or, unbound, the initial
    values); each clip has gold, trapping and practice checkboxes and a score-<sample id> field.
    The form validates the test's fields as the model does and never saves: services.create_test makes
    the test from its cleaned_data.
    """

    # Where the clips come from and their roles: no field of the test.
    runs = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Their samples are rated.",
    )
    systems = forms.MultipleChoiceField(
        choices=[],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Imported samples",
        help_text="Imported output and human reference recordings, by system name.",
    )
    references_as_gold = forms.BooleanField(
        required=False,
        label="Reference recordings are gold clips (expected: the scale's top score) rather than a rated "
        "condition",
    )
    gold = forms.TypedMultipleChoiceField(
        coerce=int, choices=[], required=False, widget=forms.CheckboxSelectMultiple, label="Gold clips"
    )
    traps = forms.TypedMultipleChoiceField(
        coerce=int, choices=[], required=False, widget=forms.CheckboxSelectMultiple, label="Trapping clips"
    )
    training = forms.TypedMultipleChoiceField(
        coerce=int, choices=[], required=False, widget=forms.CheckboxSelectMultiple, label="Practice clips"
    )
    # Fields of the test chosen from lists the model does not hold: the method registry, the systems of
    # the clips listed, the scales (none: the method's default for the language).
    method = forms.ChoiceField(
        choices=[],
        initial=methods.DEFAULT_METHOD,
        required=False,
        help_text="The test method: how trials are built, shown and analysed (absent: acr).",
    )
    reference_system = forms.ChoiceField(
        choices=[],
        required=False,
        label="Reference system (MUSHRA)",
        help_text="Its clip of each sentence is the reference: played labelled, and hidden among the samples "
        "rated. The systems of the clips listed; show the clips to update them.",
    )
    scale = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="The method's default for the language (acr-, ccr-, ab-, transcription- or mushra-en/es)",
        help_text="Its range must fit the method: 1 to 5 or the like for ACR, -3 to +3 for CMOS, "
        "-1 to +1 for A/B, 0 to 100 for MUSHRA, the one-point transcription scale for intelligibility.",
    )
    # Typed as comma lists, which the service makes the test's lists of (not in Meta.fields: the
    # service, not the model, says what an empty one means).
    dimensions = forms.CharField(
        initial="overall",
        help_text="Comma list rated on the same page; the first is the main one. ACR only: the other "
        "methods ask one question.",
    )
    artifact_labels = forms.CharField(
        required=False,
        max_length=1000,
        label="Artifact labels (one-clip methods)",
        help_text="Comma-separated, e.g. click, mispronunciation, robotic, noise: listeners may mark "
        "moments where they heard a problem, with one of these labels. Empty turns marking off.",
    )

    # Not in Meta.fields: left at "unknown" (None), services.create_test decides from the completion
    # settings (a test for a crowd platform refuses visitors without a participant id), which the page
    # cannot know when it is drawn.
    allow_no_participant_id = forms.NullBooleanField(
        required=False,
        widget=forms.NullBooleanSelect(),
        label="Accept visitors without a participant id (open link)",
        help_text="A visit whose link carries no PROLIFIC_PID starts a session of its own per browser; "
        "refused, it gets the 'This link is incomplete' page. A crowd platform sends every participant's "
        "id, so a test with its completion code or URL refuses them unless you say yes.",
    )

    class Meta:
        model = ListeningTest
        fields = [name for name in (*SOURCE_FIELDS, *SETTING_FIELDS) if name not in FORM_ONLY_FIELDS]
        formfield_callback = _test_form_field
        labels = {
            "with_anchor": "Add an anchor to each MUSHRA page: the reference low-passed at 3.5 kHz "
            "(ITU-R BS.1534)",
            "max_plays": "Plays allowed per clip (intelligibility)",
            "allow_open_link": "Accept the open link (crowd platforms)",
            "completion_url": "Completion URL",
            "screen_trials": "Headphone screen trials",
            "screen_pass_mark": "Headphone screen pass mark",
            "screen_retry_allowed": "Allow one retry of the headphone screen (all trials right)",
            "repeat_share": "Repeated pairs (A/B)",
            "allow_no_preference": "Offer 'No preference' (A/B)",
        }
        help_texts = {
            "name": "Unique, e.g. mos-2024-05.",
            "with_anchor": "Made from the reference when the test is created; needs a reference system.",
            "ratings_per_sample": "Answers wanted for each clip (ACR, intelligibility), pair (CMOS, A/B) or "
            "sentence page (MUSHRA).",
            "samples_per_session": "Clips (ACR, intelligibility), pairs (CMOS, A/B) or sentence pages "
            "(MUSHRA) one evaluator answers; A/B repeats come on top.",
            "language": "Language of the evaluator pages.",
            "expires_at": "YYYY-MM-DD HH:MM; empty for no expiry.",
            # Their labels say enough on this page; the model's help texts are for the admin.
            "gold_per_session": "",
            "traps_per_session": "",
            "instructions": "",
            "allow_open_link": "",
            "description": "",
        }
        widgets = {
            "instructions": forms.Textarea(attrs={"rows": 4}),
            "description": forms.Textarea(attrs={"rows": 2}),
        }
        error_messages = {"name": {"unique": "A listening test with this name exists already."}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The model's help texts, and what this page adds to them.
        without_either = " Without either, evaluators get the app's own code to type in."
        self.fields["completion_url"].help_text += without_either
        self.fields["screen_pass_mark"].help_text += " " + screen_guess_note()
        self.fields["method"].choices = [(m.name, m.title) for m in methods.METHODS.values()]
        self.fields["allow_no_participant_id"].widget.choices = [
            ("unknown", "Only without a platform completion code or URL"),
            ("true", "Yes"),
            ("false", "No"),
        ]
        self.fields["runs"].queryset = SynthesisRun.objects.annotate(n=Count("samples")).filter(n__gt=0)
        systems = (
            Sample.objects.filter(origin__in=services.EXTERNAL_ORIGINS)
            .values_list("system_label", flat=True)
            .distinct()
            .order_by("system_label")
        )
        self.fields["systems"].choices = [
            (label, label) for label in systems if label != multistimulus.ANCHOR_SYSTEM
        ]
        self.fields["scale"].queryset = Scale.objects.all()
        scale = self._chosen_scale()
        scores = [(value, str(value)) for value in scale.values] if scale else []
        candidates = services.candidate_samples(runs=self._chosen_runs(), systems=self._chosen_systems())
        self.candidates = list(candidates)
        labels = sorted({sample.system_label for sample in self.candidates})
        self.fields["reference_system"].choices = [("", "None")] + [(label, label) for label in labels]
        choices = [(sample.pk, f"clip {sample.pk}") for sample in self.candidates]
        for name in ROLE_FIELDS:
            self.fields[name].choices = choices
        for sample in self.candidates:
            self.fields[f"score-{sample.pk}"] = forms.TypedChoiceField(
                choices=scores,
                coerce=int,
                empty_value=None,
                required=False,
                widget=forms.RadioSelect,
                label=f"Score of clip {sample.pk}",
            )

    def _chosen_method(self) -> methods.Method:
        return methods.METHODS.get(str(self["method"].value() or methods.DEFAULT_METHOD), methods.ACR)

    @property
    def takes_gold(self) -> bool:
        """Whether the chosen method has gold and trapping clips (pair methods have none)."""
        return self._chosen_method().gold_and_traps

    @property
    def clip_note(self) -> str:
        """How the chosen method uses the clips listed."""
        return self._chosen_method().clip_note

    def _chosen_scale(self) -> Scale | None:
        value = str(self["scale"].value() or "")
        scale = Scale.objects.filter(pk=value).first() if value.isdigit() else None
        return scale or Scale.objects.filter(name="acr-en").first() or Scale.objects.first()

    def _chosen_runs(self) -> list[int]:
        values = self["runs"].value() or []
        return [int(value) for value in map(str, values) if value.isdigit()]

    def _chosen_systems(self) -> list[str]:
        return [str(value) for value in self["systems"].value() or []]

    # -- what the template renders -------------------------------------------------------------

    def source_groups(self) -> list[dict]:
        return self._field_groups(SOURCE_FIELDS)

    def setting_groups(self) -> list[dict]:
        return self._field_groups(SETTING_FIELDS)

    def _field_groups(self, names: tuple[str, ...]) -> list[dict]:
        """The fields named, in page order: those every method reads, then those only some methods read,
        grouped under a heading naming those methods ("methods": their names, for the page's script)."""
        readers = _method_readers()
        groups: dict[tuple[str, ...], list] = {(): []}
        for name in names:
            key = tuple(method.name for method in readers.get(name, ()))
            groups.setdefault(key, []).append(self[name])
        return [
            {"methods": " ".join(key), "heading": _tests_of(key), "fields": fields}
            for key, fields in groups.items()
            if fields
        ]

    def role_errors(self) -> list[str]:
        return [error for name in ROLE_FIELDS for error in self.errors.get(name, [])] if self.is_bound else []

    def clip_rows(self) -> list[dict]:
        """One row per candidate clip: the sample and its role checkboxes and score buttons."""
        boxes = {name: {str(box.data["value"]): box for box in self[name]} for name in ROLE_FIELDS}
        return [
            {
                "sample": sample,
                "gold": boxes["gold"][str(sample.pk)],
                "trap": boxes["traps"][str(sample.pk)],
                "training": boxes["training"][str(sample.pk)],
                "score": self[f"score-{sample.pk}"],
            }
            for sample in self.candidates
        ]

    def error_summary(self) -> list[tuple[str, str]]:
        """Every error of a refused submit as (anchor, message), in page order, for the summary at the
        top: the anchor is the id of the field's input (or its group of boxes) or, for an error about
        one clip, of the clip's row; "" for an error of the whole form."""
        order = [NON_FIELD_ERRORS, *SOURCE_FIELDS, *ROLE_FIELDS, *SETTING_FIELDS]
        errors = self.errors.as_data() if self.is_bound else {}
        summary = []
        for name in sorted(errors, key=lambda name: order.index(name) if name in order else len(order)):
            for error in errors[name]:
                for message in error:
                    summary.append(self._error_anchor(name, error.params or {}, message))
        return summary

    def _error_anchor(self, name: str, params: dict, message: str) -> tuple[str, str]:
        if name == NON_FIELD_ERRORS:
            return "", message
        if "clip" in params:
            return f"clip-{params['clip']}", message
        if name in ROLE_FIELDS or name.startswith("score-"):
            return "clips-heading", message
        return self[name].auto_id, f"{self[name].label}: {message}"

    def entered_values(self) -> dict:
        """What the researcher entered so far, as initial values for a form over a new clip list."""
        return {name: self[name].value() for name in self.fields}

    # -- validation ----------------------------------------------------------------------------

    def clean_dimensions(self) -> list[str]:
        return [part.strip() for part in self.cleaned_data["dimensions"].split(",") if part.strip()]

    def clean_artifact_labels(self) -> list[str]:
        return [label.strip() for label in self.cleaned_data["artifact_labels"].split(",") if label.strip()]

    def clean_method(self) -> str:
        return self.cleaned_data.get("method") or methods.DEFAULT_METHOD

    def clean(self):
        data = super().clean()
        self._ignore_other_methods_settings(data)
        self._clean_scale(data)
        # The model's clean() checks these too but stops at the first: here both show at once.
        conflict = completion_conflict(data.get("platform_code", ""), data.get("completion_url", ""))
        if conflict:
            self.add_error("platform_code", conflict)
        conflict = completion_conflict(data.get("screen_out_code", ""), data.get("screen_out_url", ""))
        if conflict:
            self.add_error("screen_out_code", conflict)
        # Left empty, the screen follows the protocol (6 trials, pass at 5) and A/B repeats 10 %.
        for name in ("screen_trials", "screen_pass_mark", "repeat_share"):
            if name not in self.errors and data.get(name) is None:
                data[name] = ListeningTest._meta.get_field(name).default
        # The model's clean() checks the pass mark against the trials. With one of them refused it
        # would judge the other against that one's default, so it is given neither.
        if {"screen_trials", "screen_pass_mark"} & self.errors.keys():
            data.pop("screen_trials", None)
            data.pop("screen_pass_mark", None)
        self._clean_roles(data)
        self._clean_traps_per_session(data)
        return data

    def _clean_traps_per_session(self, data: dict) -> None:
        """Trapping clips per session ask for ticked trapping clips (for a method that takes them)."""
        method = methods.METHODS.get(data.get("method") or methods.DEFAULT_METHOD)
        # A trapping clip ticked without its score is refused already, with the clip named.
        ticked = data["trap_samples"] or "traps" in self.errors
        if method and method.gold_and_traps and data.get("traps_per_session") and not ticked:
            self.add_error(
                "traps_per_session",
                "No trapping clip is ticked in the list of clips: set this to 0, or tick the trapping "
                "clips (each with the score it asks for).",
            )

    def _ignore_other_methods_settings(self, data: dict) -> None:
        """Settings that only other methods read take their defaults, refused or not: the page's script
        hides them while this method is chosen, and without it they show under those methods' heading."""
        method = methods.get_method(data.get("method") or methods.DEFAULT_METHOD)
        for name in _method_readers().keys() - set(method.form_fields):
            if name in self.errors:
                del self.errors[name]
            if name in UNREAD_VALUES:
                data[name] = UNREAD_VALUES[name]
            else:
                data[name] = ListeningTest._meta.get_field(name).get_default()

    def _clean_scale(self, data: dict) -> None:
        """The chosen scale, or the method's default for the language; it must fit both."""
        method = methods.METHODS.get(data.get("method") or methods.DEFAULT_METHOD)
        language = data.get("language")
        if method is None or "scale" in self.errors:
            return
        if data.get("scale") is None and language:
            name = method.default_scale(language)
            data["scale"] = Scale.objects.filter(name=name).first()
            if data["scale"] is None:
                self.add_error("scale", f"The default scale {name} does not exist; choose one.")
                return
        scale = data.get("scale")
        if scale and language and scale.language != language:
            # The labels come from the scale, everything else from the interface language.
            self.add_error(
                "scale", f"This scale's labels are in '{scale.language}'; choose one in '{language}'."
            )
        elif scale:
            try:
                method.check_scale(scale)
            except ValueError as exc:
                self.add_error("scale", f"{exc} Choose {method.default_scale(language or 'en')}.")

    def _clean_roles(self, data: dict) -> None:
        """One role per clip, and a score for every gold and trapping clip."""
        ticked = {name: data.get(name) or [] for name in ROLE_FIELDS}
        roles: dict[int, list[str]] = {}
        for name, ids in ticked.items():
            for pk in ids:
                roles.setdefault(pk, []).append(ROLE_FIELDS[name])
        for pk, names in sorted(roles.items()):
            if len(names) > 1:
                message = "Clip %(clip)s is ticked as %(roles)s; give it one role."
                self.add_error(
                    "gold", forms.ValidationError(message, params={"clip": pk, "roles": " and ".join(names)})
                )
        scores = {pk: data.get(f"score-{pk}") for pk in [*ticked["gold"], *ticked["traps"]]}
        for name, what in (("gold", "the score it should get"), ("traps", "the score it asks for")):
            for pk in ticked[name]:
                if scores[pk] is None:
                    message = f"Clip %(clip)s is a {ROLE_FIELDS[name]} clip: choose {what}."
                    self.add_error(name, forms.ValidationError(message, params={"clip": pk}))
        by_id = {sample.pk: sample for sample in self.candidates}
        taken = {*ticked["traps"], *ticked["training"]}
        gold = {}
        if data.get("references_as_gold"):
            references = [s for s in self.candidates if s.origin == Sample.Origin.REFERENCE]
            top = data["scale"].max_value if data.get("scale") else None
            gold = {sample: top for sample in references if sample.pk not in taken and top is not None}
        gold.update({by_id[pk]: scores[pk] for pk in ticked["gold"] if scores[pk] is not None})
        data["samples"] = self.candidates
        data["gold_samples"] = gold
        data["trap_samples"] = {by_id[pk]: scores[pk] for pk in ticked["traps"] if scores[pk] is not None}
        data["training_samples"] = [by_id[pk] for pk in ticked["training"]]
