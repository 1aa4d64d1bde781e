"""Pages rendered by headless Chromium (Debian's `chromium`): the checks that the report
renders, and the README's pictures (``UPDATE_SCREENSHOTS=1`` rewrites docs/img/)."""

import os
import shutil
import subprocess
from pathlib import Path

from PIL import Image, ImageChops

from tests.support.repository import REPOSITORY

PICTURES = REPOSITORY / "docs" / "img"


def screenshot(url: str, target: Path, width: int = 840, settle_ms: int = 0) -> Path:
    """The page at ``url``, cropped to its content; ``settle_ms`` of (virtual) time first lets a
    script-drawn page fetch and draw its data."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium package is missing: run .ci/system-deps"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={target}", f"--window-size={width},6000",
         *([f"--virtual-time-budget={settle_ms}"] if settle_ms else []), url],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    image = Image.open(target).convert("RGB")
    background = Image.new("RGB", image.size, image.getpixel((0, image.height - 1)))
    box = ImageChops.difference(image, background).getbbox()
    assert box is not None, f"Chromium rendered an empty page for {url}"
    image.crop((0, 0, image.width, box[3] + 16)).save(target, optimize=True)
    return target


def keep_for_readme(picture: Path, name: str) -> None:
    """Copy a screenshot into docs/img/ when UPDATE_SCREENSHOTS is set."""
    if os.environ.get("UPDATE_SCREENSHOTS"):
        PICTURES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(picture, PICTURES / name)
