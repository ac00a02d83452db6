"""The studio in a real browser: Debian's Chromium driven by Playwright, the real VGG16, tiny sizes.

One server for the module, one page per test. The first test also takes a screenshot of the
studio in the middle of a run, in 256 colours: into its own tmp_path, or, where the environment
variable FUCHUN_STUDIO_SCREENSHOT names a path, there (the README's picture is docs/studio.png).
A test run leaves the work tree as it was.
"""

from __future__ import annotations

import http.cookiejar
import io
import json
import os
import pathlib
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason="the studio extra: pip install 'fuchun[studio]'")
playwright = pytest.importorskip("playwright.sync_api", reason="the dev extra installs playwright")

from studio_support import CHROMIUM, CHROMIUM_ARGS, studio_server  # noqa: E402

from helpers import EXAMPLES_DIR, REPO  # noqa: E402

pytestmark = pytest.mark.weights
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not pathlib.Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is needed at {CHROMIUM} (apt-get install chromium)")
    with studio_server() as srv:
        yield srv
    (tmp_path_factory.getbasetemp() / "studio-server.log").write_text(srv.log)  # kept for reading after a failure
    assert "Traceback" not in srv.log, srv.log[srv.log.find("Traceback") - 2000 :][:6000]


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    outside: list[str] = []
    pg.on("request", lambda r: outside.append(r.url) if not r.url.startswith(server.url) else None)
    pg.goto(server.url)
    pg.wait_for_selector("#start")
    yield pg
    context.close()
    assert not [u for u in outside if not u.startswith(("data:", "blob:"))], f"requests left the machine: {outside}"


def set_number(pg, elem_id: str, value: int) -> None:
    """Type ``value`` into the number box of a slider and commit it."""
    box = pg.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def upload(pg, elem_id: str, *paths: pathlib.Path) -> None:
    pg.locator(f"#{elem_id} input[type=file]").set_input_files([str(p) for p in paths])


def notice(pg) -> str:
    return pg.locator("#notice").inner_text()


def wait_notice(pg, *words: str, timeout: float = 120) -> str:
    """Wait until the notice holds one of ``words``; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = notice(pg)
        if any(w in text for w in words):
            return text
        time.sleep(0.2)
    raise AssertionError(f"notice never said any of {words}; it says {notice(pg)!r}")


def preview_src(pg) -> str | None:
    img = pg.locator("#preview img")
    return img.first.get_attribute("src") if img.count() else None


def screenshot_path(tmp_path: pathlib.Path) -> pathlib.Path:
    """Where the screenshot goes: FUCHUN_STUDIO_SCREENSHOT where set, else the test's tmp_path."""
    return pathlib.Path(os.environ.get("FUCHUN_STUDIO_SCREENSHOT") or tmp_path / "studio.png")


def download(pg, name: str) -> bytes:
    """Click the download link of ``name`` and return the file's bytes."""
    link = pg.locator(f'#downloads a[download="{name}"]').first
    with pg.expect_download() as info:
        link.click()
    return pathlib.Path(info.value.path()).read_bytes()


def test_upload_run_preview_download(page, tmp_path):
    """Upload, run, see the preview change, download; the screenshot is taken mid-run and written to
    FUCHUN_STUDIO_SCREENSHOT where that is set (docs/studio.png is made so), else to tmp_path."""
    screenshot = screenshot_path(tmp_path)
    upload(page, "photo", EXAMPLES_DIR / "tubingen.jpg")
    upload(page, "paintings", EXAMPLES_DIR / "starry-night.jpg")
    page.wait_for_selector("#thumbs img")
    set_number(page, "size", 128)
    set_number(page, "steps", 40)
    page.click("#start")
    seen, shot = [], False
    deadline = time.monotonic() + 240
    while "done" not in notice(page) and time.monotonic() < deadline:
        src = preview_src(page)
        if src and src not in seen:
            seen.append(src)
        step = page.evaluate("document.querySelector('#progress progress')?.value || 0")
        if not shot and len(seen) >= 3 and step >= 16:  # far enough for the loss curve to have a few redraws
            page.screenshot(path=str(screenshot), full_page=False)
            shot = True
    if shot:  # in 256 colours, which keeps the README's picture small in the repository
        Image.open(screenshot).convert("RGB").quantize(256).save(screenshot, optimize=True)
        time.sleep(0.1)
    assert "done: 128x" in notice(page), notice(page)
    assert len(seen) >= 3, f"the preview changed {len(seen) - 1} times before the end"
    assert shot
    data = download(page, "result.png")
    image = Image.open(io.BytesIO(data))
    image.verify()
    assert Image.open(io.BytesIO(data)).size == (128, 96)
    assert "fuchun stylize" in page.locator("#command textarea").input_value()
    set_number(page, "size", 64)  # the gallery gives a picture's settings back
    page.locator("#gallery img").first.click()
    page.wait_for_function("document.querySelector('#size input[type=number]').value === '128'")


def test_stop_keeps_the_partial_picture(page):
    page.get_by_role("button", name="Tübingen × Starry Night").click()
    page.wait_for_selector("#thumbs img")
    set_number(page, "size", 96)
    set_number(page, "steps", 2000)
    page.click("#start")
    page.wait_for_function("document.querySelector('#progress progress')?.value >= 3")
    page.click("#stop")
    text = wait_notice(page, "stopped at step", "⚠")
    assert text.startswith("stopped at step"), text
    image = Image.open(io.BytesIO(download(page, "result.png")))
    assert image.size == (96, 72)


def test_corrupt_upload_gives_a_message(page, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a picture" * 50)
    upload(page, "photo", broken)
    text = wait_notice(page, "⚠", timeout=30)
    assert "broken.png" in text and "image" in text, text
    assert "Traceback" not in page.content()


def test_painted_mask_changes_the_result_where_painted(page):
    page.get_by_role("button", name="Tübingen × Starry Night").click()
    page.wait_for_selector("#thumbs img")
    page.get_by_text("Paint where each painting goes").click()
    page.locator("#painter button[aria-label=Brush]").click()
    box = page.locator("#painter canvas").first.bounding_box()
    for k in range(12):  # strokes over the left part of the canvas
        y = box["y"] + box["height"] * (0.2 + 0.05 * k)
        page.mouse.move(box["x"] + box["width"] * 0.1, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.42, y, steps=8)
        page.mouse.up()
    set_number(page, "size", 96)
    set_number(page, "steps", 40)
    page.click("#start")
    text = wait_notice(page, "done", "⚠", timeout=240)
    assert text.startswith("done"), text
    assert "--mask mask-1.png" in page.locator("#command textarea").input_value()
    result = np.asarray(Image.open(io.BytesIO(download(page, "result.png"))).convert("RGB"), dtype=np.float32)
    bundle = zipfile.ZipFile(io.BytesIO(download(page, "fuchun-run.zip")))
    mask = Image.open(io.BytesIO(bundle.read("mask-1.png"))).convert("L").resize(result.shape[1::-1])
    painted = np.asarray(mask) > 127
    assert 0.05 < painted.mean() < 0.8, f"painted share {painted.mean():.2f}"
    photo = Image.open(EXAMPLES_DIR / "tubingen.jpg").convert("RGB").resize(result.shape[1::-1], Image.LANCZOS)
    change = np.abs(result - np.asarray(photo, dtype=np.float32)).mean(-1)
    assert change[painted].mean() > 2 * change[~painted].mean(), (change[painted].mean(), change[~painted].mean())


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_no_server_path_is_readable_through_the_app(server, real_weights):
    """Only the app's own uploads and results are served: not /etc, the repo, the weights or the job folders."""
    body, boundary = _multipart("probe.png", (EXAMPLES_DIR / "tubingen.jpg").read_bytes())
    request = urllib.request.Request(
        server.url + "gradio_api/upload",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        uploaded = pathlib.Path(json.loads(response.read())[0])
    gradio_dir = next(p for p in uploaded.parents if p.name == "gradio")
    workdir = gradio_dir.parent
    assert http_get(f"{server.url}gradio_api/file={uploaded}")[0] == 200  # the probe can tell served from refused
    secrets = [
        pathlib.Path("/etc/passwd"),
        REPO / "pyproject.toml",
        REPO / "src" / "fuchun" / "studio" / "server.py",
        workdir / "examples" / "tubingen.jpg",  # the studio's own folder, outside Gradio's upload folder
        pathlib.Path(real_weights.path),
    ]
    sneaky = [f"{gradio_dir}/../../../../etc/passwd", f"{uploaded.parent}/%2e%2e/%2e%2e/%2e%2e/etc/passwd"]
    for target in [*map(str, secrets), *sneaky]:
        for route in ("gradio_api/file=", "file=", "gradio_api/file/"):
            status, data = http_get(server.url + route + target)
            assert status in (403, 404), (route, target, status)
            assert b"root:" not in data and b"[project]" not in data


def _multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "fuchun-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary


def test_auth_asks_for_a_login():
    with studio_server("--auth", "ada:lovelace") as srv:
        ask = urllib.request.Request(srv.url + "gradio_api/run/status", data=b'{"data": []}', method="POST")
        ask.add_header("Content-Type", "application/json")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(ask, timeout=30)
        assert refused.value.code in (401, 403)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        form = urllib.parse.urlencode({"username": "ada", "password": "wrong"}).encode()
        with pytest.raises(urllib.error.HTTPError):
            opener.open(srv.url + "login", data=form, timeout=30)
        form = urllib.parse.urlencode({"username": "ada", "password": "lovelace"}).encode()
        opener.open(srv.url + "login", data=form, timeout=30)
        with opener.open(ask, timeout=30) as response:
            assert json.loads(response.read())["data"][0]["rendering"] == 0
