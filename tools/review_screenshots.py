"""Screenshots of the review page for the docs (docs/img/review-*.png), taken on the demo output.

    .venv/bin/gamyeon demo -o demo-output
    .venv/bin/python tools/review_screenshots.py demo-output/demo_anonymized.mp4

Uses Debian's Chromium (``apt-get install chromium``) through Playwright, like the browser tests.
Nothing is saved to the review: the screenshots show unsaved decisions.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from gamyeon.review.files import find_outputs
from gamyeon.review.server import free_port, open_outputs, settings_for, start

ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def small_png(data: bytes, path: Path) -> None:
    """A 256-colour PNG: a third of the size of the browser's, fine for a page of flat colours."""
    image = Image.open(io.BytesIO(data)).convert("RGB").quantize(colors=256)
    image.save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--ledger", help="the ledger the output was recorded in")
    parser.add_argument("--to", type=Path, default=Path("docs/img"))
    args = parser.parse_args()
    args.to.mkdir(parents=True, exist_ok=True)
    port = free_port()
    settings = settings_for("127.0.0.1", port, ledger=args.ledger, key_file=None, source=None)
    running = start(open_outputs(find_outputs([args.output]), args.ledger), settings, "127.0.0.1", port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(running.url)
            page.locator("body[data-ready='1']").wait_for(state="attached", timeout=60_000)
            page.fill("#reviewer", "Kim Reviewer")
            page.locator("#reviewer").blur()
            for _ in range(20):
                page.keyboard.press("ArrowRight")
            page.locator("body[data-frame='20']").wait_for(state="attached")
            page.wait_for_timeout(800)
            small_png(page.screenshot(), args.to / "review-page.png")
            rows = page.locator("#tracks tbody tr")
            rows.nth(rows.count() - 1).click()
            page.keyboard.press("x")
            page.keyboard.press("a")
            box = page.locator("#overlay").bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + box["width"] * 0.05, box["y"] + box["height"] * 0.7)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.15, box["y"] + box["height"] * 0.9, steps=4)
            page.mouse.up()
            page.wait_for_timeout(800)
            small_png(page.screenshot(), args.to / "review-decisions.png")
            browser.close()
    finally:
        running.stop()


if __name__ == "__main__":
    main()
