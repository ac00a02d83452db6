"""The studio's events: what each button, upload and timer of the page does.

Handlers turn the page's values into a :class:`~fuchun.studio.service.Request`, call the
:class:`~fuchun.studio.service.Studio`, and turn its frames and results back into
component updates. A failed check becomes a sentence in the page's notice, never a
traceback. The render event has ``concurrency_limit=1``: one render at a time, the
others wait in Gradio's queue, which shows each its position.
"""

from __future__ import annotations

import html
import pathlib
import shutil
from importlib import resources
from typing import Any

import gradio as gr

from fuchun.errors import FuchunError
from fuchun.studio.layout import EXAMPLES, Page, build_page
from fuchun.studio.limits import check_upload, picture_size
from fuchun.studio.runner import Frame, Snapshot
from fuchun.studio.service import Request, Result, Studio, Upload, largest_side
from fuchun.studio.settings import MAX_STYLES, Settings

UI = {"api_visibility": "undocumented"}  # events of the page alone; the API is ticket, render, stop, status


def progress_html(s: Snapshot) -> str:
    """The progress bar and its line: scale, step, losses, time left."""
    if not s.steps:
        return "<p>starting: loading the network…</p>"
    terms = ", ".join(f"{k} {v:.3g}" for k, v in s.terms.items())
    left = "" if s.left is None else f" · about {s.left:.0f} s left"
    line = (
        f"scale {s.scale}/{s.n_scales} ({s.size[0]}x{s.size[1]}) · step {s.step}/{s.steps} · "
        f"loss {s.loss:.4g} ({terms}) · {s.elapsed:.0f} s{left}"
    )
    return f'<progress value="{s.step}" max="{s.steps}"></progress><p>{html.escape(line)}</p>'


def _upload(value: Any) -> Upload | None:
    if not value:
        return None
    path = value if isinstance(value, str) else getattr(value, "name", str(value))
    return Upload(path, pathlib.Path(path).name)


def _uploads(value: Any) -> list[Upload]:
    return [u for u in (_upload(v) for v in (value or [])) if u is not None]


class Handlers:
    """The page's event functions, bound to one :class:`Studio`."""

    def __init__(self, studio: Studio, page: Page) -> None:
        self.studio, self.page = studio, page
        self.examples = _copy_examples(studio.workdir / "examples")

    def photo_changed(self, photo: Any, *values: Any):
        """Check the photo; put it under the mask painter; show the largest size for it."""
        upload = _upload(photo)
        if upload is None:
            return None, "", self.largest_text(Settings.from_values(list(values)), None)
        try:
            image = check_upload(upload.path, self.studio.limits, role="the photo", name=upload.name)
        except FuchunError as exc:
            return None, f"⚠ {exc}", ""
        aspect = (image.shape[-1], image.shape[-2])
        editor = {"background": upload.path, "layers": [], "composite": None}
        return editor, "", self.largest_text(Settings.from_values(list(values)), aspect)

    def paintings_changed(self, paintings: Any):
        """Check the paintings; show them and one blend slider each."""
        uploads = _uploads(paintings)
        limits, message, shown = self.studio.limits, "", []
        for i, u in enumerate(uploads, 1):
            try:
                check_upload(u.path, limits, role=f"painting {i}", name=u.name)
                shown.append((u.path, u.name))
            except FuchunError as exc:
                message = f"⚠ {exc}"
        if len(uploads) > MAX_STYLES:
            message = f"⚠ the studio takes up to {MAX_STYLES} paintings; the others are left out"
        sliders = [gr.update(visible=i < max(1, min(len(uploads), MAX_STYLES))) for i in range(MAX_STYLES)]
        return [shown, message, *sliders]

    def largest_text(self, settings: Settings, aspect: tuple[int, int] | None) -> str:
        """'largest for this machine: N px' for the settings (and the photo's shape)."""
        try:
            side = largest_side(settings, aspect or (1, 1))
        except (FuchunError, ValueError) as exc:
            return f"⚠ {exc}"
        cap = self.studio.limits.output_side
        note = f" (this studio allows up to {cap} px)" if side > cap else ""
        return f"largest for this machine: **{side} px**{note}"

    def settings_changed(self, photo: Any, *values: Any) -> str:
        """The largest size again, for new settings (the photo's shape read from its header)."""
        upload = _upload(photo)
        aspect = None if upload is None else picture_size(upload.path)
        return self.largest_text(Settings.from_values(list(values)), aspect)

    def mode_changed(self, mode: str):
        """The mode's own defaults for steps and start image."""
        s = Settings.for_mode(mode)
        return s.steps, s.init

    def example(self, index: int):
        photo, paintings = list(EXAMPLES.values())[index]
        return str(self.examples[photo]), [str(self.examples[p]) for p in paintings]

    def render(self, token, photo, paintings, start_image, editor, *values):
        """The render event: frames while it goes, then the result (also into this visit's gallery)."""
        *controls, visits = values
        request = Request(
            Settings.from_values(controls), _upload(photo), _uploads(paintings), _upload(start_image), editor
        )
        p = self.page
        for item in self.studio.run(token, request):
            if isinstance(item, Frame):  # only what changed: an unchanged picture is not sent again
                update = {p.progress: progress_html(item.snapshot)}
                update.update({c: v for c, v in ((p.preview, item.preview), (p.plot, item.plot)) if v is not None})
                yield update
            else:
                yield self.result_updates(item, visits)

    def result_updates(self, result: Result, visits: list[dict[str, Any]]) -> dict[Any, Any]:
        p = self.page
        notice = f"⚠ {result.message}" if result.failed else result.message
        if result.picture is None:
            return {p.notice: notice, p.progress: ""}
        entry = {
            "picture": str(result.files[0]),
            "files": [str(f) for f in result.files],
            "command": result.command,
            "values": result.settings.values() if result.settings else None,
            "caption": f"{len(visits) + 1}: {result.settings.mode if result.settings else ''} · {result.message}",
        }
        visits = [*visits, entry]
        return {
            p.preview: result.picture,
            p.notice: notice,
            p.downloads: entry["files"],
            p.command: result.command,
            p.gallery: [(v["picture"], v["caption"]) for v in visits],
            p.visits: visits,
        }

    def restore(self, visits: list[dict[str, Any]], evt: gr.SelectData):
        """A gallery picture clicked: its settings back in the controls, its files in the downloads."""
        entry = visits[evt.index]
        values = entry["values"] or Settings().values()
        return [*values, entry["picture"], entry["files"], entry["command"], f"settings of picture {evt.index + 1}"]

    def stop(self, token: str | None) -> str:
        return "stopping…" if self.studio.stop(token) else "nothing of yours is running"

    def board(self) -> str:
        s = self.studio.status()
        return f"studio: {s['rendering']} rendering, {s['waiting']} waiting, {s['finished']} done"


def _copy_examples(target: pathlib.Path) -> dict[str, pathlib.Path]:
    """The bundled examples copied where the page may serve them from."""
    target.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in {n for photo, paintings in EXAMPLES.values() for n in (photo, *paintings)}:
        with resources.as_file(resources.files("fuchun") / "examples" / name) as source:
            shutil.copyfile(source, target / name)
        out[name] = target / name
    return out


def build_app(studio: Studio) -> gr.Blocks:
    """The studio page with its events wired to ``studio``."""
    page = build_page(studio.limits)
    h = Handlers(studio, page)
    controls = page.control_list()
    with page.blocks:
        page.photo.change(h.photo_changed, [page.photo, *controls], [page.painter, page.notice, page.largest], **UI)
        page.paintings.change(
            h.paintings_changed, page.paintings, [page.thumbs, page.notice, *page.controls["blend"]], **UI
        )
        for name in ("preset", "precision", "device", "mode"):
            page.controls[name].change(h.settings_changed, [page.photo, *controls], page.largest, queue=False, **UI)
        page.controls["mode"].change(
            h.mode_changed, page.controls["mode"], [page.controls["steps"], page.controls["init"]], **UI
        )
        for i, button in enumerate(page.examples):
            button.click(lambda i=i: h.example(i), None, [page.photo, page.paintings], **UI)
        outputs = [page.preview, page.progress, page.plot, page.notice, page.downloads, page.command]
        page.start.click(studio.ticket, None, page.ticket, queue=False, api_name="ticket").then(
            h.render,
            [page.ticket, page.photo, page.paintings, page.start_image, page.painter, *controls, page.visits],
            [*outputs, page.gallery, page.visits],
            concurrency_limit=1,
            concurrency_id="render",
            api_name="render",
        )
        page.stop.click(h.stop, page.ticket, page.notice, queue=False, api_name="stop")
        page.gallery.select(
            h.restore, page.visits, [*controls, page.preview, page.downloads, page.command, page.notice], **UI
        )
        page.timer.tick(h.board, None, page.board, queue=False, **UI)
        gr.api(status_api(studio), api_name="status", queue=False)
        page.blocks.load(h.board, None, page.board, queue=False, **UI)
        page.blocks.load(h.settings_changed, [page.photo, *controls], page.largest, queue=False, **UI)
    return page.blocks


def status_api(studio: Studio):
    async def status() -> dict:  # on the event loop itself: it answers while a render holds the threads
        """The board: renders running, tickets waiting, runs done, most renders ever at once."""
        return studio.status()

    return status
