"""The review page in a real browser: Debian's Chromium driven by Playwright, against a real
review server on a free local port, on a real output made from a clip with a face.

Playwright's own browser download is not used (``playwright install`` needs the internet);
the tests skip, with one line saying how to install it, where Chromium is missing.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gamyeon.ledger.store import Ledger
from gamyeon.review.files import OutputFiles
from gamyeon.review.server import Running, free_port, open_outputs, settings_for, start
from review_helpers import ADDED, FRAMES, Made, check_rerendered, decoded, make_output, notes

CHROMIUM = Path(os.environ.get("GAMYEON_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}: apt-get install chromium (or set GAMYEON_CHROMIUM)"
)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    return make_output(tmp_path_factory.mktemp("review-browser"))


@pytest.fixture(scope="module")
def server(made: Made) -> Iterator[Running]:
    port = free_port()
    settings = settings_for("127.0.0.1", port, ledger=made.ledger, key_file=made.key, source=None)
    running = start(open_outputs([OutputFiles(made.output)], made.ledger), settings, "127.0.0.1", port)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: object, server: Running) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    page.fill("#reviewer", "Kim Reviewer")
    page.locator("#reviewer").blur()  # keys go to the page, not the name field
    yield page
    context.close()
    assert not errors, errors


def test_the_page_lists_the_tracks_and_steps_frame_exactly_by_keyboard(
    page: object, made: Made, tmp_path: Path
) -> None:
    tracks = {r["track"] for line in notes(made.sidecar) for r in line["regions"]}
    assert page.locator("#tracks tbody tr").count() == len(tracks) == 1  # type: ignore[attr-defined]
    assert page.get_attribute("#overlay", "data-regions") == "1"  # type: ignore[attr-defined]
    steps = [("ArrowRight", 1), ("ArrowRight", 2), ("Shift+ArrowRight", FRAMES - 1), ("ArrowLeft", FRAMES - 2),
             ("Home", 0), ("End", FRAMES - 1), ("Period", FRAMES - 1), ("Comma", FRAMES - 2)]  # fmt: skip
    for key, expected in steps:
        page.keyboard.press(key)  # type: ignore[attr-defined]
        page.locator(f"body[data-frame='{expected}']").wait_for(state="attached")  # type: ignore[attr-defined]
        assert page.input_value("#frame-number") == str(expected)  # type: ignore[attr-defined]
    # the picture shown is that frame of the output, decoded exactly
    page.keyboard.press("Home")  # type: ignore[attr-defined]
    page.locator("body[data-frame='0']").wait_for(state="attached")  # type: ignore[attr-defined]
    page.screenshot(path=str(tmp_path / "review.png"))  # type: ignore[attr-defined]
    assert (tmp_path / "review.png").stat().st_size > 10_000


def test_without_the_token_nothing_is_served(browser: object, server: Running) -> None:
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    response = page.goto(server.url.split("?")[0])
    assert response.status == 403 and "session token" in page.content()
    response = page.goto(server.url.replace("token=", "token=x"))
    assert response.status == 403
    context.close()


def test_a_reveal_without_key_or_purpose_is_refused(page: object, made: Made) -> None:
    page.click("#tracks tbody tr")  # type: ignore[attr-defined]
    page.click("#reveal")  # type: ignore[attr-defined]
    page.wait_for_selector("#message.error")  # type: ignore[attr-defined]
    assert "needs the key" in page.inner_text("#message")  # type: ignore[attr-defined]
    page.set_input_files("#reveal-key", str(made.key))  # type: ignore[attr-defined]
    page.locator("#message", has_text="needs the key").wait_for()  # type: ignore[attr-defined]
    page.click("#reveal")  # type: ignore[attr-defined]
    page.locator("#message.error", has_text="purpose").wait_for()  # type: ignore[attr-defined]
    assert "purpose" in page.inner_text("#message")  # type: ignore[attr-defined]
    assert page.is_hidden("#reveal-view")  # type: ignore[attr-defined]
    with Ledger(made.ledger) as book:
        assert not [r for r in book.records() if r.action == "reveal"]


def test_exclude_and_add_then_save_sign_off_and_rerender_change_exactly_those_pixels(
    page: object, made: Made, tmp_path: Path
) -> None:
    before, before_notes = decoded(made.output), notes(made.sidecar)
    shutil.copy(made.output, tmp_path / "before.mkv")
    track = next(r["track"] for r in before_notes[0]["regions"])
    page.click("#tracks tbody tr")  # type: ignore[attr-defined]
    page.keyboard.press("x")  # type: ignore[attr-defined]
    page.wait_for_selector("#tracks tbody tr.gone")  # type: ignore[attr-defined]
    page.keyboard.press("Home")  # type: ignore[attr-defined]
    page.locator("body[data-frame='0']").wait_for(state="attached")  # type: ignore[attr-defined]
    page.keyboard.press("a")  # type: ignore[attr-defined]
    box = page.locator("#overlay").bounding_box()  # type: ignore[attr-defined]
    scale = box["width"] / 320

    def at(x: float, y: float) -> tuple[float, float]:
        return box["x"] + x * scale, box["y"] + y * scale

    page.mouse.move(*at(ADDED[0], ADDED[1]))  # type: ignore[attr-defined]
    page.mouse.down()  # type: ignore[attr-defined]
    page.mouse.move(*at((ADDED[0] + ADDED[2]) / 2, (ADDED[1] + ADDED[3]) / 2), steps=3)  # type: ignore[attr-defined]
    page.mouse.move(*at(ADDED[2], ADDED[3]), steps=3)  # type: ignore[attr-defined]
    page.mouse.up()  # type: ignore[attr-defined]
    page.wait_for_selector("#overlay rect.added")  # type: ignore[attr-defined]
    page.keyboard.press("Control+s")  # type: ignore[attr-defined]
    page.locator("#message", has_text="Saved 2 change").wait_for()  # type: ignore[attr-defined]
    page.click("#signoff")  # type: ignore[attr-defined]
    page.locator("#message", has_text="Signed off").wait_for()  # type: ignore[attr-defined]
    page.click("#render")  # type: ignore[attr-defined]
    page.wait_for_selector("#render-state[data-state='done']", timeout=120_000)  # type: ignore[attr-defined]
    review = json.loads(made.review.read_text(encoding="utf-8"))
    added = [i for i in review["items"] if i["type"] == "add"]
    assert len(added) == 1 and added[0]["by"] == "Kim Reviewer"
    drawn = added[0]["keyframes"][0]["box"]
    assert all(abs(a - b) <= 1.5 for a, b in zip(drawn, ADDED, strict=True)), drawn
    assert review["signoffs"][0]["verdict"] == "approve" and review["renders"][0]["approved"] is True
    check_rerendered(made, before, before_notes, track, {0: drawn})
    with Ledger(made.ledger) as book:
        actions = [r.action for r in book.records()]
    assert {"review.open", "review.save", "review.signoff", "review.render"} <= set(actions)
