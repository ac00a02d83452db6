"""The studio page: its components, laid out in three columns (inputs, controls, picture).

Only components live here; what they do is wired in :mod:`fuchun.studio.app`. Every
control's default comes from :class:`~fuchun.studio.settings.Settings` (the CLI's defaults).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from fuchun.config.options import DEVICES, PRECISIONS, Config
from fuchun.config.parse import MAX_STRENGTH
from fuchun.config.presets import PRESETS
from fuchun.io.read import MIN_SIDE
from fuchun.studio.limits import Limits
from fuchun.studio.settings import BRUSH_COLOURS, MODES, NO_COLOUR, WEIGHTS, Settings

EXAMPLES = {  # button label -> (photo, paintings) among fuchun's bundled examples
    "Tübingen × Starry Night": ("tubingen.jpg", ("starry-night.jpg",)),
    "Tübingen × Fuchun Mountains": ("tubingen.jpg", ("fuchun-mountains.jpg",)),
    "Tübingen × both": ("tubingen.jpg", ("starry-night.jpg", "fuchun-mountains.jpg")),
}
CSS = """
#progress progress { width: 100%; height: 0.8em; }
#preview img { width: 100%; height: 100%; object-fit: contain; }
#notice p { font-weight: 600; }
.brush-key span { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 50%; margin: 0 0.3em; }
"""


@dataclass
class Page:
    """Handles on every component the events need."""

    blocks: gr.Blocks
    ticket: gr.State
    visits: gr.State
    controls: dict[str, Any]  # Settings field -> component; "blend" -> list of sliders
    photo: gr.File
    paintings: gr.File
    start_image: gr.File
    painter: gr.ImageEditor
    thumbs: gr.Gallery
    examples: list[gr.Button]
    largest: gr.Markdown
    start: gr.Button
    stop: gr.Button
    preview: gr.Image
    progress: gr.HTML
    plot: gr.Image
    notice: gr.Markdown
    downloads: gr.File
    command: gr.Textbox
    gallery: gr.Gallery
    board: gr.Markdown
    timer: gr.Timer

    def control_list(self) -> list[Any]:
        """The control components in :meth:`Settings.names` order (blend sliders last)."""
        names = Settings.names()[:-1]
        return [self.controls[n] for n in names] + list(self.controls["blend"])


def brush_key() -> str:
    """HTML naming each brush colour's painting."""
    dots = "".join(f'<span style="background:{c}"></span>painting {i}' for i, c in enumerate(BRUSH_COLOURS, 1))
    return f'<div class="brush-key">Brush colours: {dots}. Unpainted parts keep the photo.</div>'


def inputs_column(c: dict[str, Any]) -> dict[str, Any]:
    """Photo, paintings, examples, blend sliders, the mask painter, the start image."""
    s = Settings()
    out: dict[str, Any] = {}
    c["mode"] = gr.Radio(list(MODES), value=s.mode, label="Mode", elem_id="mode")
    out["photo"] = gr.File(label="Photo", file_types=["image"], elem_id="photo")
    out["paintings"] = gr.File(label="Paintings", file_count="multiple", file_types=["image"], elem_id="paintings")
    out["thumbs"] = gr.Gallery(label="The paintings", columns=4, height=120, elem_id="thumbs", interactive=False)
    with gr.Row():
        out["examples"] = [gr.Button(label, size="sm", elem_classes="example") for label in EXAMPLES]
    c["blend"] = [
        gr.Slider(0, 1, value=b, step=0.05, label=f"blend of painting {i}", visible=i == 1, elem_id=f"blend-{i}")
        for i, b in enumerate(s.blend, 1)
    ]
    with gr.Accordion("Paint where each painting goes (optional)", open=False, elem_id="paint-accordion"):
        gr.HTML(brush_key())
        out["painter"] = gr.ImageEditor(
            type="numpy",
            sources=(),
            transforms=(),
            layers=False,
            brush=gr.Brush(colors=list(BRUSH_COLOURS), default_color=BRUSH_COLOURS[0], color_mode="fixed"),
            label="Masks over the photo",
            elem_id="painter",
        )
        c["mask_feather"] = gr.Slider(0, 32, value=s.mask_feather, step=0.5, label="feathering of the mask edges (px)")
    out["start_image"] = gr.File(label="Start image (optional)", file_types=["image"], elem_id="start-image")
    return out


def controls_column(c: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """Preset, size (with the machine's largest), steps, strength; the rest under Advanced."""
    s = Settings()
    out: dict[str, Any] = {}
    c["preset"] = gr.Dropdown(list(PRESETS), value=s.preset, label="Preset", elem_id="preset")
    c["size"] = gr.Slider(MIN_SIDE, limits.output_side, value=s.size, step=1, label="Size (px)", elem_id="size")
    out["largest"] = gr.Markdown(elem_id="largest")
    c["steps"] = gr.Slider(1, limits.steps, value=s.steps, step=1, label="Steps", elem_id="steps")
    c["strength"] = gr.Slider(
        0,
        MAX_STRENGTH,
        value=s.strength,
        step=0.5,
        label="Style strength (photo 0 ... 10 painting)",
        elem_id="strength",
    )
    c["preserve_colors"] = gr.Radio(
        [NO_COLOUR, *Config.__dataclass_fields__["preserve_colors"].metadata["choices"]],
        value=s.preserve_colors,
        label="Keep the photo's colours",
    )
    c["style_scale"] = gr.Slider(0.25, 4, value=s.style_scale, step=0.05, label="Style scale")
    with gr.Accordion("Advanced", open=False):
        for name in WEIGHTS:
            c[name] = gr.Number(value=None, label=f"{name.replace('_', ' ')} (blank: the preset's)")
        c["seed"] = gr.Number(value=s.seed, precision=0, minimum=0, label="Seed")
        c["init"] = gr.Dropdown(["content", "noise", "style-mean"], value=s.init, label="Start from")
        c["precision"] = gr.Dropdown(list(PRECISIONS), value=s.precision, label="Precision")
        c["device"] = gr.Dropdown(list(DEVICES), value=s.device, label="Device")
    with gr.Row():
        out["start"] = gr.Button("Start", variant="primary", elem_id="start")
        out["stop"] = gr.Button("Stop", variant="stop", elem_id="stop")
    out["board"] = gr.Markdown(elem_id="board")
    return out


def picture_column() -> dict[str, Any]:
    """The live picture, progress, loss curve, downloads, command line and this visit's gallery."""
    out: dict[str, Any] = {}
    out["preview"] = gr.Image(label="Picture", interactive=False, format="jpeg", elem_id="preview", height=420)
    out["progress"] = gr.HTML(elem_id="progress")
    out["notice"] = gr.Markdown(elem_id="notice")
    out["plot"] = gr.Image(label="Loss", interactive=False, elem_id="loss", height=220)
    out["downloads"] = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="downloads")
    out["command"] = gr.Textbox(label="Command line", buttons=["copy"], interactive=False, elem_id="command")
    out["gallery"] = gr.Gallery(label="This visit's pictures (click one to get its settings back)", elem_id="gallery")
    return out


def build_page(limits: Limits) -> Page:
    """The page's components inside a new Blocks (events are added by the caller)."""
    controls: dict[str, Any] = {}
    with gr.Blocks(title="fuchun studio", analytics_enabled=False, delete_cache=(3600, 6 * 3600)) as blocks:
        ticket, visits = gr.State(None), gr.State([])
        gr.Markdown("## fuchun studio · neural style transfer on a pretrained VGG")
        with gr.Row():
            with gr.Column(scale=3):
                inputs = inputs_column(controls)
            with gr.Column(scale=2):
                knobs = controls_column(controls, limits)
            with gr.Column(scale=4):
                picture = picture_column()
        timer = gr.Timer(2.0)
    return Page(blocks, ticket, visits, controls, timer=timer, **inputs, **knobs, **picture)
