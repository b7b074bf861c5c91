"""What the browser tests share: Debian's headless Chromium, its sizes, where screenshots go, and the skip."""

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"  # screenshots and PDFs to look at after a run
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason=f"{CHROMIUM} is missing: `apt-get install -y chromium fonts-noto-cjk`")


def launch(playwright: Any) -> Any:
    """Headless Chromium from Debian (`playwright install` cannot download here)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
