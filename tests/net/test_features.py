"""Tests for fuchun.net.features.VGGFeatures and fuchun.net.architectures on tiny random networks."""

from __future__ import annotations

import pytest
import torch

from fuchun.net.architectures import conv_names, layer_names, torchvision_index
from fuchun.net.features import CAFFE_MEAN_BGR, IMAGENET_MEAN, IMAGENET_STD, VGGFeatures
from helpers import TINY_WIDTHS, noise_image, tiny_vgg


def _count_conv_calls(net: VGGFeatures) -> dict[str, int]:
    calls = {name: 0 for name in net.convs}

    def hook(name):
        def count(module, args, output):
            calls[name] += 1

        return count

    for name, conv in net.convs.items():
        conv.register_forward_hook(hook(name))
    return calls


# ----------------------------------------------------------------------------- shapes and names


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_output_names_and_shapes(arch):
    net = tiny_vgg(arch)
    wanted = ["relu1_1", "pool1", "relu2_1", "pool2", "relu3_1", "pool3", "relu4_2", "pool4", "relu5_1", "pool5"]
    feats = net(noise_image(17, 22, seed=0), wanted)
    assert set(feats) == set(wanted)
    # ceil-mode pooling: 17x22 -> 9x11 -> 5x6 -> 3x3 -> 2x2 -> 1x1
    expected = {
        "relu1_1": (4, 17, 22),
        "pool1": (4, 9, 11),
        "relu2_1": (4, 9, 11),
        "pool2": (4, 5, 6),
        "relu3_1": (8, 5, 6),
        "pool3": (8, 3, 3),
        "relu4_2": (8, 3, 3),
        "pool4": (8, 2, 2),
        "relu5_1": (8, 2, 2),
        "pool5": (8, 1, 1),
    }
    for name, shape in expected.items():
        assert tuple(feats[name].shape) == (1, *shape), name
    assert (feats["relu1_1"] >= 0).all()


def test_even_size_halves_exactly():
    feats = tiny_vgg()(noise_image(16, 24, seed=0), ["pool1", "pool2"])
    assert feats["pool1"].shape[-2:] == (8, 12) and feats["pool2"].shape[-2:] == (4, 6)


def test_vgg19_only_layers():
    assert "relu5_4" in tiny_vgg("vgg19")(noise_image(8, 8, seed=0), ["relu5_4"])
    with pytest.raises(ValueError):
        tiny_vgg("vgg16")(noise_image(8, 8, seed=0), ["relu5_4"])


@pytest.mark.parametrize("bad", [["relu9_9"], ["relu1_1", "block4_conv2"], ["features.3"]])
def test_unknown_layer_raises(bad):
    with pytest.raises(ValueError):
        tiny_vgg()(noise_image(8, 8, seed=0), bad)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError):
        VGGFeatures("vgg11", widths=TINY_WIDTHS)
    with pytest.raises(ValueError):
        VGGFeatures("vgg16", widths=(4, 4, 8))
    with pytest.raises(ValueError):
        VGGFeatures("vgg16", widths=TINY_WIDTHS, pooling="min")
    with pytest.raises(ValueError):
        VGGFeatures("vgg16", widths=TINY_WIDTHS, input_format="bgr")


def test_channels_and_frozen_parameters():
    net = tiny_vgg("vgg19")
    assert net.channels("relu1_2") == 4 and net.channels("pool3") == 8 and net.channels("conv5_4") == 8
    assert not any(p.requires_grad for p in net.parameters())
    assert not net.training


# ----------------------------------------------------------------------------- early stop


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_forward_stops_at_deepest_requested_layer(arch):
    net = tiny_vgg(arch)
    calls = _count_conv_calls(net)
    net(noise_image(17, 22, seed=0), ["relu2_1", "relu1_1"])
    assert {n for n, k in calls.items() if k} == {"conv1_1", "conv1_2", "conv2_1"}
    assert all(k in (0, 1) for k in calls.values())
    net(noise_image(17, 22, seed=0), ["pool3"])
    ran = {n for n, k in calls.items() if k}
    assert not any(n.startswith(("conv4", "conv5")) for n in ran)
    assert {n for n in conv_names(arch) if n.startswith("conv3")} <= ran


def test_deepest():
    net = tiny_vgg("vgg19")
    assert net.deepest(["relu1_1", "relu4_2", "pool2"]) == "relu4_2"
    assert net.deepest(["relu5_4", "conv5_4"]) == "relu5_4"
    assert net.deepest(["pool1"]) == "pool1"


# ----------------------------------------------------------------------------- input normalisation


def test_caffe_normalisation():
    net = tiny_vgg(input_format="caffe")
    r, g, b = 0.2, 0.5, 0.9
    pixel = torch.tensor([r, g, b]).view(1, 3, 1, 1)
    out = net.normalise(pixel).flatten()
    expected = torch.tensor([255 * b, 255 * g, 255 * r]) - torch.tensor(CAFFE_MEAN_BGR)
    torch.testing.assert_close(out, expected)
    assert CAFFE_MEAN_BGR == pytest.approx((103.939, 116.779, 123.68))


def test_imagenet_normalisation():
    net = tiny_vgg(input_format="imagenet")
    pixel = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1)
    out = net.normalise(pixel).flatten()
    expected = (torch.tensor([0.2, 0.5, 0.9]) - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(out, expected)


def test_input_format_changes_features():
    caffe, imagenet = tiny_vgg(input_format="caffe"), tiny_vgg(input_format="imagenet")
    image = noise_image(8, 8, seed=0)
    assert not torch.allclose(caffe(image, ["relu1_1"])["relu1_1"], imagenet(image, ["relu1_1"])["relu1_1"])


# ----------------------------------------------------------------------------- pooling, checkpointing


def test_avg_and_max_pooling_differ():
    mx, avg = tiny_vgg(pooling="max"), tiny_vgg(pooling="avg")
    avg.convs.load_state_dict(mx.convs.state_dict())
    image = noise_image(10, 12, seed=0)
    a, m = avg(image, ["relu1_2", "pool1"]), mx(image, ["relu1_2", "pool1"])
    torch.testing.assert_close(a["relu1_2"], m["relu1_2"])
    assert not torch.allclose(a["pool1"], m["pool1"])
    torch.testing.assert_close(m["pool1"], torch.nn.functional.max_pool2d(m["relu1_2"], 2, ceil_mode=True))
    torch.testing.assert_close(a["pool1"], torch.nn.functional.avg_pool2d(a["relu1_2"], 2, ceil_mode=True))


def test_checkpoint_blocks_same_outputs_and_gradients():
    net = tiny_vgg("vgg19")
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_2"]
    results = []
    for flag in (False, True):
        net.checkpoint_blocks = flag
        image = noise_image(12, 14, seed=0).requires_grad_(True)
        feats = net(image, layers)
        sum(f.pow(2).mean() for f in feats.values()).backward()
        results.append((feats, image.grad))
    (f0, g0), (f1, g1) = results
    for name in layers:
        torch.testing.assert_close(f1[name], f0[name], rtol=0, atol=0)
    torch.testing.assert_close(g1, g0)
    assert g0.abs().sum() > 0


# ----------------------------------------------------------------------------- state dicts


def test_state_dict_round_trip():
    source = tiny_vgg(seed=1)
    target = VGGFeatures("vgg16", widths=TINY_WIDTHS, state_dict=source.convs.state_dict())
    image = noise_image(9, 9, seed=0)
    torch.testing.assert_close(target(image, ["relu3_1"])["relu3_1"], source(image, ["relu3_1"])["relu3_1"])


def test_state_dict_with_wrong_shapes_fails():
    wrong = tiny_vgg(widths=(4, 4, 8, 8, 16)).convs.state_dict()
    with pytest.raises((RuntimeError, ValueError)):
        VGGFeatures("vgg16", widths=TINY_WIDTHS, state_dict=wrong)
    missing = dict(tiny_vgg().convs.state_dict())
    del missing["conv5_3.bias"]
    with pytest.raises((RuntimeError, ValueError, KeyError)):
        VGGFeatures("vgg16", widths=TINY_WIDTHS, state_dict=missing)


# ----------------------------------------------------------------------------- architectures


def test_torchvision_indices():
    vgg19 = torchvision_index("vgg19")
    assert vgg19 == {
        "conv1_1": 0, "conv1_2": 2,
        "conv2_1": 5, "conv2_2": 7,
        "conv3_1": 10, "conv3_2": 12, "conv3_3": 14, "conv3_4": 16,
        "conv4_1": 19, "conv4_2": 21, "conv4_3": 23, "conv4_4": 25,
        "conv5_1": 28, "conv5_2": 30, "conv5_3": 32, "conv5_4": 34,
    }  # fmt: skip
    vgg16 = torchvision_index("vgg16")
    assert vgg16 == {
        "conv1_1": 0, "conv1_2": 2,
        "conv2_1": 5, "conv2_2": 7,
        "conv3_1": 10, "conv3_2": 12, "conv3_3": 14,
        "conv4_1": 17, "conv4_2": 19, "conv4_3": 21,
        "conv5_1": 24, "conv5_2": 26, "conv5_3": 28,
    }  # fmt: skip
    assert len(layer_names("vgg19")) == 37 and len(layer_names("vgg16")) == 31
