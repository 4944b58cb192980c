"""A pipeline configuration pointing at a model file that is not there fails its items, naming the file."""

from django.test import TestCase

from synthesis import services
from synthesis.models import RunItem, Status
from synthesis.tasks import process_item
from tests.factories import make_config, make_sentence_set, style


class MissingModelFileTests(TestCase):
    def test_a_missing_gguf_fails_the_item_with_an_error_naming_the_path(self):
        missing = "/nowhere/LFM2-1.2B-Q4_K_M.gguf"
        config = make_config("lfm2-missing", llm_model=missing)
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(
                name="missing gguf", mode="conversation", config=config,
                sentence_sets=[make_sentence_set()], styles=[style("neutral")],
            )  # fmt: skip
        item = run.items.first()

        process_item(item.pk)

        item = RunItem.objects.get(pk=item.pk)
        self.assertEqual(item.status, Status.FAILED)
        self.assertIn(f"LLM model {missing} not found", item.error)
