"""Tests for the article's sequence and its contact sheet."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from fuchun.cli import parser as cli
from fuchun.cli.article import STEPS, article_sheet


def test_article_renders_every_step(tiny_net, tiny_options):
    content, style = torch.rand(3, 60, 80), torch.rand(3, 64, 64)
    sheet, pictures = article_sheet(content, style, net=tiny_net, **tiny_options)
    assert len(pictures) == len(STEPS) == 6
    for picture in pictures:
        assert picture.shape[0] == 3 and max(picture.shape[1:]) == 64
        assert 0 <= picture.min() and picture.max() <= 1
    assert isinstance(sheet, Image.Image) and sheet.width > 3 * 64 and sheet.height > 2 * 64
    # the style-only pictures ignore the content; the stylised ones start from it and differ
    assert not torch.equal(pictures[3], pictures[5])


def test_article_ends_with_the_article_preset_it_claims():
    caption, mode, options = STEPS[-1]
    assert mode == "stylize" and options == {"preset": "article"} and "article" in caption


@pytest.mark.weights
def test_article_command_writes_sheet_and_pictures(examples_dir, tmp_path, capsys, real_weights):
    out, keep = tmp_path / "sheet.png", tmp_path / "pictures"
    status = cli.main(
        [
            "article",
            str(examples_dir / "tubingen.jpg"),
            str(examples_dir / "fuchun-mountains.jpg"),
            "-o",
            str(out),
            "--keep",
            str(keep),
            "--size",
            "64",
            "--steps",
            "2",
            "--quiet",
            "--shift",
            "relu2_1=4",
        ]
    )
    assert status == 0, capsys.readouterr().err
    assert Image.open(out).width > 600
    assert len(list(keep.glob("*.png"))) == 6
