"""The French catalogue is complete and compiles: partner pages and emails exist in both languages."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import translation

PO = Path(__file__).resolve().parents[2] / "locale" / "fr" / "LC_MESSAGES" / "django.po"


def entries():
    text = PO.read_text(encoding="utf-8")
    return [block for block in text.split("\n\n") if "msgid" in block]


def test_every_message_has_a_french_translation_and_none_is_fuzzy():
    untranslated = [block for block in entries()[1:] if re.search(r'msgstr(\[0\])? ""\n?$', block.strip() + "\n")]
    fuzzy = [block for block in entries() if "#, fuzzy" in block]
    assert untranslated == [] and fuzzy == [], (untranslated[:3], fuzzy[:3])


@pytest.mark.skipif(not shutil.which("msgfmt"), reason="GNU gettext not installed")
def test_the_catalogue_passes_msgfmt_check():
    result = subprocess.run(["msgfmt", "--check", "-o", "/dev/null", str(PO)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_french_is_served_from_the_compiled_catalogue():
    with translation.override("fr"):
        assert translation.gettext("Dashboard") == "Tableau de bord"
