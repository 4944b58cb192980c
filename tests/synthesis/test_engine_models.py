import hashlib
import os
import tempfile
from pathlib import Path
from unittest import TestCase

from synthesis.engines import models
from synthesis.engines.models import ModelFileError


class TempDirTestCase(TestCase):
    def setUp(self) -> None:
        temp = tempfile.TemporaryDirectory()
        self.addCleanup(temp.cleanup)
        self.dir = Path(temp.name)

    def write(self, name: str, content: bytes) -> Path:
        path = self.dir / name
        path.write_bytes(content)
        return path


class PiperVoiceResolutionTests(TempDirTestCase):
    def test_it_finds_the_packaged_joe_voice_and_its_config(self):
        model, config = models.resolve_piper_voice("en_US-joe-medium")

        self.assertEqual(model.name, "en_US-joe-medium.onnx")
        self.assertEqual(config.name, "en_US-joe-medium.onnx.json")

    def test_it_names_the_missing_voice_file(self):
        missing = self.dir / "nobody.onnx"

        with self.assertRaisesRegex(ModelFileError, f"{missing}.*not found.*onnx.json"):
            models.resolve_piper_voice(str(missing))

    def test_it_names_the_missing_voice_config(self):
        model = self.write("voice.onnx", b"onnx")

        with self.assertRaisesRegex(ModelFileError, f"{model}.json not found"):
            models.resolve_piper_voice(str(model))

    def test_it_refuses_a_voice_config_that_is_not_json(self):
        model = self.write("voice.onnx", b"onnx")
        self.write("voice.onnx.json", b"{not json")

        with self.assertRaisesRegex(ModelFileError, f"{model}.json is not valid"):
            models.resolve_piper_voice(str(model))

    def test_it_refuses_a_voice_that_is_not_an_onnx_file(self):
        model = self.write("voice.bin", b"onnx")

        with self.assertRaisesRegex(ModelFileError, f"{model} not found: expected a .onnx file"):
            models.resolve_piper_voice(str(model))


class SttModelResolutionTests(TempDirTestCase):
    def test_it_finds_the_packaged_tiny_english_model(self):
        directory = models.resolve_stt_model("whisper-tiny.en", self.dir)

        self.assertTrue((directory / "model.bin").is_file())

    def test_it_names_a_missing_whisper_directory(self):
        missing = self.dir / "large-v3"

        with self.assertRaisesRegex(ModelFileError, f"{missing} not found.*model.bin"):
            models.resolve_stt_model(str(missing), self.dir)

    def test_it_names_the_file_missing_from_a_whisper_directory(self):
        (self.dir / "config.json").write_text("{}")

        with self.assertRaisesRegex(ModelFileError, f"{self.dir / 'model.bin'} not found"):
            models.resolve_stt_model(str(self.dir), self.dir)


class LlmModelResolutionTests(TempDirTestCase):
    def test_it_finds_the_packaged_smollm2_gguf(self):
        path = models.resolve_llm_model("smollm2-135m")

        self.assertEqual(path.name, "SmolLM2-135M-Instruct.Q4_1.gguf")

    def test_it_names_a_missing_gguf_file(self):
        missing = self.dir / "phi-2.gguf"

        with self.assertRaisesRegex(ModelFileError, f"{missing} not found"):
            models.resolve_llm_model(str(missing))

    def test_it_refuses_a_file_that_is_not_gguf(self):
        fake = self.write("model.gguf", b"PK\x03\x04 a zip file")

        with self.assertRaisesRegex(ModelFileError, f"{fake} is not a GGUF file"):
            models.resolve_llm_model(str(fake))


class JoinVerifiedTests(TempDirTestCase):
    def test_it_joins_parts_in_order_when_the_checksum_matches(self):
        parts = [self.write("a", b"hello "), self.write("b", b"world")]
        target = self.dir / "joined"

        models.join_verified(parts, target, size=11, sha256=hashlib.sha256(b"hello world").hexdigest())

        self.assertEqual(target.read_bytes(), b"hello world")

    def test_it_refuses_parts_with_the_wrong_checksum_and_leaves_nothing_behind(self):
        parts = [self.write("a", b"hello "), self.write("b", b"w0rld")]
        target = self.dir / "joined"

        with self.assertRaisesRegex(ModelFileError, f"{target} .* is corrupt"):
            models.join_verified(parts, target, size=11, sha256=hashlib.sha256(b"hello world").hexdigest())

        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), ["a", "b"])


class WhisperBaseAssemblyTests(TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.temp = tempfile.TemporaryDirectory()
        cls.directory = models.resolve_stt_model("whisper-base", Path(cls.temp.name))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.temp.cleanup()
        super().tearDownClass()

    def model_sha256(self) -> str:
        digest = hashlib.sha256()
        with (self.directory / "model.bin").open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
        return digest.hexdigest()

    def test_it_assembles_the_model_with_the_published_checksum(self):
        self.assertEqual(self.directory, Path(self.temp.name) / "whisper-base")
        self.assertEqual(self.model_sha256(), models.WHISPER_BASE_SHA256)

    def test_it_places_config_tokenizer_and_vocabulary_beside_the_model(self):
        names = sorted(path.name for path in self.directory.iterdir())

        self.assertEqual(names, ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"])

    def test_it_repairs_a_truncated_model_bin(self):
        with (self.directory / "model.bin").open("r+b") as handle:
            handle.truncate(1000)

        models.resolve_stt_model("whisper-base", Path(self.temp.name))

        self.assertEqual((self.directory / "model.bin").stat().st_size, models.WHISPER_BASE_SIZE)
        self.assertEqual(self.model_sha256(), models.WHISPER_BASE_SHA256)


class FingerprintTests(TempDirTestCase):
    def test_it_matches_hashlib_for_a_small_file(self):
        path = self.write("voice.onnx", b"some weights")

        fingerprint = models.file_fingerprint(path)

        expected = {"path": str(path), "size": 12, "sha256": hashlib.sha256(b"some weights").hexdigest()}
        self.assertEqual(fingerprint, expected)

    def test_it_hashes_a_file_again_after_it_changes(self):
        path = self.write("voice.onnx", b"old weights")
        models.file_fingerprint(path)
        path.write_bytes(b"new weights!")
        os.utime(path, ns=(1, 1))

        fingerprint = models.file_fingerprint(path)

        self.assertEqual(fingerprint["sha256"], hashlib.sha256(b"new weights!").hexdigest())

    def test_it_lists_each_file_of_a_directory(self):
        self.write("model.bin", b"weights")
        self.write("config.json", b"{}")

        flat = models.fingerprints([self.dir])

        self.assertEqual([Path(entry["path"]).name for entry in flat], ["config.json", "model.bin"])
        self.assertEqual(flat[1]["sha256"], hashlib.sha256(b"weights").hexdigest())

    def test_it_names_a_missing_file(self):
        missing = self.dir / "gone.gguf"

        with self.assertRaisesRegex(ModelFileError, f"{missing} not found"):
            models.file_fingerprint(missing)


class EnvironmentDescriptionTests(TestCase):
    def test_it_reports_the_installed_version_of_each_engine_library(self):
        versions = models.library_versions()

        self.assertEqual(set(versions), set(models.LIBRARIES))
        self.assertNotIn("not installed", versions.values())

    def test_it_describes_the_cpu_with_its_core_count(self):
        self.assertRegex(models.cpu_description(), r".+ \(\d+ logical cores\)$")
