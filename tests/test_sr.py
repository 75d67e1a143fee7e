"""Super-resolution: the data pipeline, the metric protocol, the three
families, --init-from, `ganforge upscale` and `ganforge eval` on tiny images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.data import load_data
from ganforge.data.base import to_float, to_uint8
from ganforge.data.sr import bicubic_resize, downscale, modcrop, symmetry
from ganforge.errors import GanforgeError
from ganforge.metrics.sr import luma, shave, sr_scores
from ganforge.models import create_model
from ganforge.perceptual import VGGFeatures
from ganforge.pipelines import UpscalePipeline, load
from ganforge.pipelines.upscaling import tile_starts
from ganforge.training import train

TINY_SRRESNET = {"features": 8, "blocks": 1}
TINY_RRDB = {"features": 8, "growth": 4, "blocks": 1}


def write_images(folder: Path, sizes: list[tuple[int, int]], seed: int = 0, mode: str = "RGB") -> list[Path]:
    """Smooth random images (a blurred noise field, so bicubic is not hopeless) of the given (W, H)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i, (w, h) in enumerate(sizes):
        coarse = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((w, h), Image.Resampling.BILINEAR).convert(mode)
        path = folder / f"img{i}.png"
        image.save(path)
        paths.append(path)
    return paths


@pytest.fixture
def hr_folder(tmp_path: Path) -> Path:
    write_images(tmp_path / "hr", [(40, 36), (48, 48), (36, 44)])
    return tmp_path / "hr"


def sr_config(tmp_path: Path, root: Path, model: str = "srresnet", **overrides: object) -> TrainConfig:
    settings: dict[str, object] = dict(
        data="sr", data_root=str(root), image_size=16, scale=4, model=model, model_options=dict(TINY_SRRESNET), steps=4,
        batch_size=4, runs_dir=str(tmp_path / "runs"), run=model, sample_every=2, checkpoint_every=2, log_every=1,
        tensorboard=False, progress=False, device="cpu",
    )
    settings.update(overrides)
    return TrainConfig(**settings)  # type: ignore[arg-type]


# -- data ------------------------------------------------------------------------


def test_batches_are_random_crops_and_their_bicubic_lr(hr_folder: Path) -> None:
    data = load_data("sr", root=str(hr_folder), image_size=16, scale=4)
    assert len(data) == 3 and data.image_shape == (3, 16, 16) and data.input_shape == (3, 4, 4)
    lr, hr = data.batch(5, seed=0, number=7)
    assert lr.shape == (5, 3, 4, 4) and hr.shape == (5, 3, 16, 16)
    assert hr.min() >= -1 and hr.max() <= 1
    torch.testing.assert_close(lr, downscale(hr, 4))
    # the LR is 8-bit: every value is a level of a saved image
    torch.testing.assert_close(to_float(to_uint8(lr)), lr)
    again_lr, again_hr = data.batch(5, seed=0, number=7)
    assert torch.equal(again_hr, hr) and torch.equal(again_lr, lr)
    assert not torch.equal(data.batch(5, seed=0, number=8)[1], hr)
    assert not torch.equal(data.batch(5, seed=1, number=7)[1], hr)


def test_every_crop_is_a_symmetry_of_a_window_of_some_image(hr_folder: Path) -> None:
    data = load_data("sr", root=str(hr_folder), image_size=8, scale=2)
    for number in range(3):
        crop = to_uint8(data.hr_crops(1, seed=3, number=number))[0]
        candidates = [symmetry(crop, k) for k in range(8)]
        windows = [image.unfold(1, 8, 1).unfold(2, 8, 1) for image in data.images]  # C x H' x W' x 8 x 8
        assert any((w == c[:, None, None]).all(dim=0).all(dim=-1).all(dim=-1).any() for w in windows for c in candidates)


def test_the_eight_symmetries_differ_for_an_asymmetric_image() -> None:
    image = torch.arange(9, dtype=torch.uint8).view(1, 3, 3)
    results = {tuple(symmetry(image, k).flatten().tolist()) for k in range(8)}
    assert len(results) == 8


def test_small_images_are_skipped_and_counted(tmp_path: Path) -> None:
    write_images(tmp_path / "hr", [(40, 40), (12, 30), (50, 10)])
    data = load_data("sr", root=str(tmp_path / "hr"), image_size=16, scale=4)
    assert len(data) == 1
    assert "2 image(s) smaller than the 16 px crop skipped" in data.notes[0]
    with pytest.raises(GanforgeError, match="all 3 image\\(s\\) are smaller than the 96 px HR crop"):
        load_data("sr", root=str(tmp_path / "hr"))


def test_bad_sr_data_is_named(tmp_path: Path, hr_folder: Path) -> None:
    with pytest.raises(GanforgeError, match="--data sr needs --data-root"):
        load_data("sr")
    with pytest.raises(GanforgeError, match="--scale must be one of 2, 3, 4, got 5"):
        load_data("sr", root=str(hr_folder), scale=5)
    with pytest.raises(GanforgeError, match="must be a positive multiple of --scale 3"):
        load_data("sr", root=str(hr_folder), image_size=16, scale=3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanforgeError, match="holds no image files"):
        load_data("sr", root=str(tmp_path / "empty"))
    (hr_folder / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(GanforgeError, match="broken.png: cannot read the image"):
        load_data("sr", root=str(hr_folder), image_size=16)


def test_bicubic_matches_pil_which_matches_matlab(hr_folder: Path) -> None:
    """torch's antialiased bicubic (a = -0.5) against PIL's BICUBIC resize,
    the kernel MATLAB's imresize uses: at most one 8-bit level apart away from the borders."""
    pixels = np.array(Image.open(hr_folder / "img1.png"))  # 48 x 48
    ours = to_uint8(downscale(to_float(torch.from_numpy(pixels).permute(2, 0, 1)[None]), 4))[0].permute(1, 2, 0).numpy()
    pil = np.array(Image.fromarray(pixels).resize((12, 12), Image.Resampling.BICUBIC))
    difference = np.abs(ours.astype(int) - pil.astype(int))[1:-1, 1:-1]
    assert difference.max() <= 1


def test_modcrop_keeps_the_top_left_part_divisible_by_the_scale() -> None:
    image = torch.zeros(3, 10, 7)
    assert modcrop(image, 4).shape == (3, 8, 4)
    assert modcrop(image, 3).shape == (3, 9, 6)


# -- the metric protocol ------------------------------------------------------


def test_luma_and_scores_match_scikit_image() -> None:
    from skimage.color import rgb2ycbcr
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (30, 26, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    to_tensor = lambda x: torch.from_numpy(x).permute(2, 0, 1)[None]  # noqa: E731
    y_a, y_b = rgb2ycbcr(a)[..., 0], rgb2ycbcr(b)[..., 0]
    np.testing.assert_allclose(luma(to_tensor(a))[0, 0].numpy(), y_a, atol=1e-9)
    scores = sr_scores(to_tensor(b), to_tensor(a), border=3)
    ya, yb = y_a[3:-3, 3:-3], y_b[3:-3, 3:-3]
    assert scores["psnr"] == pytest.approx(peak_signal_noise_ratio(ya, yb, data_range=255), abs=1e-9)
    expected_ssim = structural_similarity(ya, yb, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert scores["ssim"] == pytest.approx(expected_ssim, abs=1e-9)


def test_shave_and_grey_luma() -> None:
    grey = torch.full((1, 1, 10, 10), 100, dtype=torch.uint8)
    assert luma(grey).unique().tolist() == [100.0]
    assert shave(grey, 2).shape == (1, 1, 6, 6)
    assert shave(grey, 0).shape == (1, 1, 10, 10)


# -- the networks -----------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("name, options", [("srresnet", TINY_SRRESNET), ("rrdbnet", TINY_RRDB), ("srgan", TINY_SRRESNET), ("esrgan", TINY_RRDB)])
def test_generators_upscale_by_their_scale(name: str, options: dict[str, int], scale: int) -> None:
    torch.manual_seed(0)
    model = create_model(name, image_shape=(3, 48, 48), scale=scale, **options)
    out = model.upscale(torch.rand(2, 3, 7, 5) * 2 - 1)
    assert out.shape == (2, 3, 7 * scale, 5 * scale)
    if model.discriminator is not None:
        assert model.discriminate(torch.rand(3, 3, 48, 48)).shape == (3,)


def test_srresnet_starts_at_bicubic_and_the_paper_variant_has_batch_norm() -> None:
    torch.manual_seed(0)
    lr = to_float(torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8))
    ours = create_model("srresnet", image_shape=(3, 32, 32))
    bicubic = bicubic_resize(lr, (32, 32))
    with torch.no_grad():
        gap = (ours.upscale(lr) - bicubic).abs().mean()
    assert gap < 0.1  # the residual over bicubic starts small
    paper = create_model("srresnet", image_shape=(3, 32, 32), variant="paper")
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in paper.generator.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in ours.generator.modules())
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in ours.generator.modules()) == 2


def test_bad_sr_model_options_are_named() -> None:
    with pytest.raises(GanforgeError, match="variant must be one of ganforge, paper"):
        create_model("srresnet", image_shape=(3, 32, 32), variant="edsr")
    with pytest.raises(GanforgeError, match="preset must be one of paper, small"):
        create_model("rrdbnet", image_shape=(3, 32, 32), preset="huge")
    with pytest.raises(GanforgeError, match="side divides by 16"):
        create_model("srgan", image_shape=(3, 36, 36), scale=4)


def test_vgg_features_take_a_features_only_state_and_refuse_a_wrong_one(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = VGGFeatures("conv2_2")
    state = {f"features.{k}": v for k, v in reference.features.state_dict().items()}
    loaded = VGGFeatures("conv2_2", state=state)
    x = torch.rand(1, 1, 16, 16) * 2 - 1  # grey images go in as three equal channels
    torch.testing.assert_close(loaded(x), reference(x))
    assert loaded(x).min() >= 0  # after the ReLU
    assert VGGFeatures("conv2_2", before_activation=True, state=state)(x).min() < 0
    with pytest.raises(GanforgeError, match="do not fit torchvision's VGG19"):
        VGGFeatures("conv2_2", state={"features.0.weight": torch.zeros(1)})


def test_without_vgg_weights_the_error_says_where_to_put_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hr_folder: Path) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANFORGE_VGG19_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(GanforgeError) as error:
        train(sr_config(tmp_path, hr_folder, "srgan", image_size=16, steps=1))
    message = str(error.value)
    assert "vgg19-dcbb9e9d.pth" in message and "-X vgg_weights=FILE" in message and "--model srresnet" in message


# -- training, resume, --init-from ------------------------------------------------


def test_srresnet_trains_resumes_exactly_and_previews(tmp_path: Path, hr_folder: Path) -> None:
    pipeline = train(sr_config(tmp_path, hr_folder, steps=4))
    run = tmp_path / "runs" / "srresnet"
    assert (run / "samples" / "step-00000004.png").is_file()
    preview = Image.open(run / "samples" / "step-00000004.png")
    assert preview.width == preview.height  # three HR images: three rows of [bicubic | output | HR]
    whole = {k: v.clone() for k, v in pipeline.model.state_dict().items()}
    train(sr_config(tmp_path, hr_folder, steps=2, run="split"))
    resumed = train(sr_config(tmp_path, hr_folder, steps=4, run="split"))
    for key, value in resumed.model.state_dict().items():
        torch.testing.assert_close(value, whole[key], msg=key)


def test_pixel_loss_lowers_the_error_on_held_out_crops(tmp_path: Path, hr_folder: Path) -> None:
    data = load_data("sr", root=str(hr_folder), image_size=16, scale=4)
    held_out = [data.batch(16, seed=99, number=n) for n in range(4)]  # crops training (seed 0) does not draw

    def l1(model: torch.nn.Module) -> float:
        with torch.no_grad():
            return float(np.mean([(model.upscale(lr) - hr).abs().mean() for lr, hr in held_out]))

    settings = dict(lr_g=1e-3, lr_decay="none", sample_every=1000, checkpoint_every=1000, log_every=100)
    start = train(sr_config(tmp_path, hr_folder, steps=1, run="one", **settings))
    trained = train(sr_config(tmp_path, hr_folder, steps=60, run="sixty", **settings))
    assert isinstance(trained, UpscalePipeline)
    assert l1(trained.model) < l1(start.model) - 0.003


def test_srgan_starts_from_an_srresnet_run_and_trains_with_vgg_weights(tmp_path: Path, hr_folder: Path) -> None:
    train(sr_config(tmp_path, hr_folder, steps=2))
    torch.manual_seed(0)
    vgg = VGGFeatures("conv5_4")
    weights = tmp_path / "vgg.safetensors"
    from safetensors.torch import save_file

    save_file({f"features.{k}": v.contiguous() for k, v in vgg.features.state_dict().items()}, str(weights))
    source = load(tmp_path / "runs" / "srresnet").model.generator.state_dict()
    config = sr_config(tmp_path, hr_folder, "srgan", steps=1, init_from="srresnet", objective_options={"vgg_weights": str(weights)})
    from ganforge.training import build_model, load_training_data
    from ganforge.runs.transfer import init_generator_from

    model = build_model(config, load_training_data(config))
    init_generator_from(model, "srresnet", tmp_path / "runs")
    for key, value in model.generator.state_dict().items():
        torch.testing.assert_close(value, source[key])
    pipeline = train(config)
    metrics = (tmp_path / "runs" / "srgan" / "metrics.jsonl").read_text()
    assert '"content"' in metrics and '"loss_d"' in metrics
    assert pipeline.step == 1


def test_init_from_a_generator_of_another_shape_is_refused(tmp_path: Path, hr_folder: Path) -> None:
    train(sr_config(tmp_path, hr_folder, steps=1))
    config = sr_config(tmp_path, hr_folder, "rrdbnet", model_options=dict(TINY_RRDB), init_from="srresnet", run="rrdb")
    with pytest.raises(GanforgeError, match="--init-from .*srresnet: its generator does not fit rrdbnet's"):
        train(config)


def test_an_sr_model_on_other_data_and_other_models_on_sr_data_are_refused(tmp_path: Path, hr_folder: Path) -> None:
    with pytest.raises(GanforgeError, match="model 'srresnet' upscales images: train it on high-resolution images \\(--data sr"):
        train(TrainConfig(data="digits", model="srresnet", steps=1, runs_dir=str(tmp_path / "runs"), device="cpu"))
    with pytest.raises(GanforgeError, match="holds high-resolution images for super-resolution, which model 'dcgan' does not learn from; use --model"):
        train(sr_config(tmp_path, hr_folder, "dcgan", model_options={}))


# -- using a run: upscale and eval ----------------------------------------------------


@pytest.fixture
def trained(tmp_path: Path, hr_folder: Path) -> Path:
    train(sr_config(tmp_path, hr_folder, steps=2))
    return tmp_path / "runs" / "srresnet"


def test_upscale_writes_scale_times_the_input_size_for_grey_rgb_and_rgba(tmp_path: Path, trained: Path) -> None:
    inputs = tmp_path / "inputs"
    write_images(inputs, [(9, 7)])
    write_images(inputs / "grey", [(5, 6)], mode="L")
    write_images(inputs / "alpha", [(6, 4)], mode="RGBA")
    assert main(["upscale", str(trained), "--input", str(inputs), "--out", str(tmp_path / "out")]) == 0
    rgb, grey, alpha = (Image.open(tmp_path / "out" / p) for p in ("img0.png", "grey/img0.png", "alpha/img0.png"))
    assert (rgb.size, rgb.mode) == ((36, 28), "RGB")
    assert (grey.size, grey.mode) == ((20, 24), "L")
    assert (alpha.size, alpha.mode) == ((24, 16), "RGBA")


def test_tiled_upscaling_equals_whole_image_upscaling(trained: Path) -> None:
    pipeline = load(trained)
    lr = torch.randint(0, 256, (1, 3, 50, 37), dtype=torch.uint8)
    whole = pipeline.upscale(lr, tile=0)
    tiled = pipeline.upscale(lr, tile=12)
    assert tiled.shape == (1, 3, 200, 148)
    torch.testing.assert_close(tiled, whole, atol=1e-4, rtol=0)
    as_levels = pipeline.upscale(lr, tile=12, as_uint8=True)
    assert as_levels.dtype == torch.uint8
    assert (as_levels.int() - to_uint8(whole).int()).abs().max() <= 1


def test_tile_starts_cover_the_image() -> None:
    assert tile_starts(10, 16) == [0]
    assert tile_starts(50, 12) == [0, 12, 24, 36, 38]


def test_upscale_refuses_a_wrong_scale_a_bad_file_and_a_generate_run(tmp_path: Path, trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = write_images(tmp_path / "in", [(8, 8)])[0]
    assert main(["upscale", str(trained), "--input", str(image), "--out", str(tmp_path / "o"), "--scale", "2"]) != 0
    assert "--scale 2: this run upscales x4" in capsys.readouterr().err
    broken = tmp_path / "bad" / "broken.png"
    broken.parent.mkdir()
    broken.write_bytes(b"not an image")
    assert main(["upscale", str(trained), "--input", str(broken), "--out", str(tmp_path / "o")]) != 0
    assert "broken.png: cannot read the image" in capsys.readouterr().err
    assert main(["sample", str(trained), "--out", str(tmp_path / "s.png")]) != 0
    assert "is an upscale run: use ganforge upscale" in capsys.readouterr().err
    generation_run = Path(__file__).parent / "fixtures" / "runs-v0.1" / "dcgan-digits-v0.1"
    assert main(["upscale", str(generation_run), "--input", str(image), "--out", str(tmp_path / "o")]) != 0
    assert "is a generate run: use ganforge sample" in capsys.readouterr().err


def test_eval_reports_y_psnr_and_ssim_beside_bicubic(tmp_path: Path, trained: Path, hr_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ganforge.pipelines.sr_evaluation import evaluate_upscale_run, read_test_images, score_images
    from ganforge.tasks.upscale import bicubic_upscale

    result = evaluate_upscale_run(trained, data_root=hr_folder)
    assert set(result.metrics) == {"psnr", "ssim", "bicubic_psnr", "bicubic_ssim"}
    assert len(result.extra["per_image"]) == 3
    # bicubic's row, by hand: the images modcropped, downscaled, upscaled, scored on Y
    images = read_test_images(hr_folder, 4)
    assert images[0].hr.shape[-2:] == (36, 40)  # 36 x 40 stays; other sizes cropped to multiples of 4
    by_hand = score_images(lambda lr: to_uint8(bicubic_upscale(to_float(lr), 4)), images, 4)["metrics"]["psnr"]
    assert result.metrics["bicubic_psnr"] == pytest.approx(by_hand)
    assert main(["eval", str(trained), "--data-root", str(hr_folder)]) == 0
    assert "bicubic_psnr" in capsys.readouterr().out
    assert main(["eval", str(trained)]) != 0
    assert "give --data-root DIR" in capsys.readouterr().err


def test_eval_every_keeps_the_checkpoint_with_the_highest_psnr(tmp_path: Path, hr_folder: Path) -> None:
    train(sr_config(tmp_path, hr_folder, steps=4, eval_every=2, eval_data_root=str(hr_folder)))
    run = tmp_path / "runs" / "srresnet"
    import json

    evaluations = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"kind": "eval"' in line]
    assert len(evaluations) == 2
    best = max(evaluations, key=lambda e: e["psnr"])
    state = json.loads(next((run / "best").glob("step-*/state.json")).read_text())
    assert state["step"] == best["step"]
    with pytest.raises(GanforgeError, match="give --eval-data-root DIR"):
        train(sr_config(tmp_path, hr_folder, steps=1, eval_every=1, run="no-root"))


def test_a_grey_test_image_is_its_own_y(tmp_path: Path, trained: Path) -> None:
    """As the SR papers' MATLAB scripts do: a grey HR image is scored on its
    grey values, and an RGB run upscales it through RGB."""
    from ganforge.pipelines.sr_evaluation import evaluate_upscale_run, read_test_images, with_channels

    write_images(tmp_path / "grey", [(24, 20)], mode="L")
    image = read_test_images(tmp_path / "grey", 4)[0]
    assert image.hr.shape == (1, 1, 20, 24) and image.lr.shape == (1, 1, 5, 6)
    result = evaluate_upscale_run(trained, data_root=tmp_path / "grey")
    assert 0 < result.metrics["psnr"] < 100
    rgb = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    grey = with_channels(rgb, 1)
    expected = np.asarray(Image.fromarray(rgb[0].permute(1, 2, 0).numpy()).convert("L"))
    assert np.abs(grey[0, 0].numpy().astype(int) - expected.astype(int)).max() <= 1
    assert with_channels(grey, 3).shape == (2, 3, 4, 4)
