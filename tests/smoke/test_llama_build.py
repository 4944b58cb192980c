"""The installed llama.cpp holds no instruction a portable x86-64 CPU may lack (AVX-512, AMX).

The check disassembles the libraries themselves, so it holds whatever CPU runs the test: a build
made with -march=native on an AVX-512 machine fails here even though it runs fine on that machine.
"""

import importlib.util
import platform
import re
import shutil
import subprocess
from pathlib import Path
from unittest import skipUnless

import pytest
from django.test import SimpleTestCase

from synthesis.engines import selftest

# zmm registers are AVX-512 only; tile* / ldtilecfg / sttilecfg are AMX.
FORBIDDEN = re.compile(r"\b(zmm\d+|tile\w*|ldtilecfg|sttilecfg)\b")


def llama_libraries() -> list[Path]:
    spec = importlib.util.find_spec("llama_cpp")
    package = Path(next(iter(spec.submodule_search_locations)))
    return sorted(p for p in (package / "lib").glob("libggml*.so*") if p.is_file() and not p.is_symlink())


@skipUnless(platform.machine() == "x86_64", "the portable instruction set is defined for x86-64")
@pytest.mark.processes
class PortableLlamaBuildTests(SimpleTestCase):
    def test_the_installed_ggml_libraries_contain_no_avx512_or_amx_instruction(self):
        objdump = shutil.which("objdump")
        self.assertIsNotNone(objdump, "objdump (binutils) is needed to check the llama.cpp build")
        libraries = llama_libraries()
        self.assertTrue(any("ggml-cpu" in p.name for p in libraries), libraries)
        for library in libraries:
            listing = subprocess.run(
                [objdump, "-d", "--no-show-raw-insn", str(library)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            found = sorted({match.group(1) for match in FORBIDDEN.finditer(listing)})[:5]
            self.assertEqual(found, [], f"{library.name} uses instructions a portable CPU may lack: {found}")

    def test_the_build_records_its_portable_flags(self):
        flags = selftest.llama_build_flags()
        self.assertIn("-DGGML_NATIVE=OFF", flags)
        self.assertIn("-DGGML_AMX_TILE=OFF", flags)
        self.assertIn("-DGGML_AVX512=OFF", flags)
        self.assertIn("-DGGML_AVX2=ON", flags)

    def test_the_build_script_keys_its_cache_on_the_flags(self):
        script = Path(selftest.PROJECT_ROOT) / "scripts" / "build_llama.sh"
        python = str(Path(selftest.PROJECT_ROOT) / ".venv" / "bin" / "python")

        def key(extra: str) -> str:
            return subprocess.run(
                ["bash", str(script), "--print-key", python],
                capture_output=True,
                text=True,
                check=True,
                env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LLAMA_CMAKE_ARGS": extra},
            ).stdout.strip()

        self.assertRegex(key(""), r"^llama-cpp-python-\d+\.\d+\.\d+-[0-9a-f]{16}$")
        self.assertNotEqual(key(""), key("-DGGML_NATIVE=ON"))
