"""MHSG guidance: three granularities from SAM's automatic masks, visual guidance RoI-pooled from
CLIP's dense features (crop variant kept), short/long descriptions from CLIP zero-shot or a
Hugging Face captioner, caches of plain arrays keyed by what produced them."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from seal_ros.datasets.pairs import AedatPairs, rgb
from seal_ros.train.clip import build_tiny_clip
from seal_ros.train.describers import ClipZeroShotDescriber, VlmDescriber, clean_caption
from seal_ros.train.guidance import build_guidance_clip, build_image_sam, ensure_guidance, guidance_settings
from seal_ros.train.guidance_cache import CacheMismatch, GuidanceCache, build_cache
from seal_ros.train.mhsg import GRANULARITIES, GuidanceGenerator, roi_pool_masks, semantic_labels
from seal_ros.train.teachers import TeacherMissing

VOCAB = ["car", "person", "tree", "road"]
TINY = {"sam": "tiny", "clip": "tiny", "vocabulary": VOCAB, "points_per_side": 4, "pred_iou_thresh": 0.0,
        "stability_score_thresh": 0.0, "max_masks": 4, "shard_size": 1}


@pytest.fixture(scope="module")
def setup(data_dir):
    src = AedatPairs(data_dir / "davis346_frames" / "davis.aedat4")
    sam = build_image_sam(guidance_settings(TINY), "cpu", random_teachers=True)
    clip = build_tiny_clip(16)
    gen = GuidanceGenerator(sam, clip, ClipZeroShotDescriber(clip, VOCAB), points_per_side=4,
                            pred_iou_thresh=0.0, stability_score_thresh=0.0, max_masks=4)
    return src, gen, clip


def test_roi_pooling_weighs_the_dense_features_inside_each_mask():
    dense = torch.zeros(4, 8, 8)
    dense[0, :, :4] = 1.0  # left half: direction e0; right half: e1
    dense[1, :, 4:] = 1.0
    masks = np.zeros((3, 64, 64), bool)
    masks[0, 10:50, 2:28] = True  # inside the left half
    masks[1, 5:60, 36:60] = True  # inside the right half
    masks[2, 20:40, 0:64] = True  # both halves equally
    got = roi_pool_masks(dense, masks)
    assert torch.allclose(got[0], torch.tensor([1.0, 0, 0, 0]), atol=1e-6)
    assert torch.allclose(got[1], torch.tensor([0, 1.0, 0, 0]), atol=1e-6)
    assert torch.allclose(got[2], torch.tensor([0.5 ** 0.5, 0.5 ** 0.5, 0, 0]), atol=1e-3)
    # an L-shaped mask: its box holds pixels outside it, which count for nothing
    lshape = np.zeros((1, 64, 64), bool)
    lshape[0, :, 0:16] = True
    lshape[0, 48:64, :] = True
    dense2 = torch.zeros(4, 8, 8)
    dense2[2] = 1.0
    dense2[3, 0:5, 3:8] = 5.0  # a strong feature only where the box is not the mask
    assert torch.allclose(roi_pool_masks(dense2, lshape)[0], torch.tensor([0, 0, 1.0, 0]), atol=1e-6)
    assert float(torch.nn.functional.normalize(dense2.mean(dim=(1, 2)), dim=0)[3]) > 0.8  # the box mean: not


def test_guidance_has_three_granularities_with_roi_visual_and_short_long_text(setup):
    src, gen, clip = setup
    assert len(src) == 3
    image = rgb(src[0].image)
    out = gen(image)
    assert set(out) == {name for name, _ in GRANULARITIES}
    dense = clip.dense_features(image)
    assert dense.shape == (16, 4, 4)
    text = clip.text.encode(VOCAB).float()
    for name, g in out.items():
        k = len(g)
        assert 1 <= k <= 4 and (g.height, g.width) == (260, 346)  # masks at the image's own size
        masks = g.unpack_masks()
        assert masks.shape == (k, 260, 346) and masks.any(axis=(1, 2)).all()
        vis = torch.from_numpy(g.visual.astype(np.float32))
        assert torch.allclose(vis, roi_pool_masks(dense, masks), atol=2e-3)  # the paper's visual guidance
        best = (vis @ text.t()).argmax(1)
        assert g.names == [VOCAB[i] for i in best] == [VOCAB[i] for i in g.vocab_index]
        assert g.long_names == g.names  # zero-shot: the name is both descriptions
        assert torch.allclose(torch.from_numpy(g.short.astype(np.float32)), text[best], atol=2e-3)
    lab = semantic_labels(out)
    assert lab.shape == (260, 346) and set(np.unique(lab)) <= set(range(len(VOCAB))) | {255}
    assert [gen.generators[i][1].predictor.level for i in range(3)] == [2, 1, 0]


def test_crop_variant_is_an_option(setup):
    src, gen, clip = setup
    crop = GuidanceGenerator(gen.generators[0][1].predictor.model, clip, ClipZeroShotDescriber(clip, VOCAB),
                             points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, max_masks=4,
                             visual="crop")
    a, b = gen(rgb(src[1].image)), crop(rgb(src[1].image))
    assert np.array_equal(a["semantic"].masks, b["semantic"].masks)
    assert not np.allclose(a["semantic"].visual, b["semantic"].visual, atol=1e-2)
    with pytest.raises(ValueError, match="roi"):
        GuidanceGenerator(gen.generators[0][1].predictor.model, clip, None, visual="pixels")


def _tiny_captioner(path):
    """A randomly initialised BLIP captioner built from a config (no download), saved locally."""
    from transformers import (BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor,
                              BlipProcessor)

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "a", "photo", "of", "red", "car", "tree",
             "person", "near", "road", "2", "big", "detailed", "description", "this", "object", ",", "its",
             "parts", "and", "surroundings", ":", "the", "with"]
    path.mkdir()
    (path / "vocab.txt").write_text("\n".join(words) + "\n")
    tok = BertTokenizer(str(path / "vocab.txt"), bos_token="[DEC]")
    proc = BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tok)
    torch.manual_seed(0)
    cfg = BlipConfig(text_config=dict(vocab_size=len(words), hidden_size=16, num_hidden_layers=1,
                                      num_attention_heads=2, intermediate_size=32, max_position_embeddings=96,
                                      bos_token_id=5, pad_token_id=0, sep_token_id=3, eos_token_id=3),
                     vision_config=dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                        intermediate_size=32, image_size=32, patch_size=8), projection_dim=16)
    BlipForConditionalGeneration(cfg).save_pretrained(path)
    proc.save_pretrained(path)
    return path


def test_captions_are_cleaned_as_the_authors_do():
    assert clean_caption("a photo of 2 red cars, near 10 trees.", "a photo of") == "red cars, near trees"
    assert clean_caption("  ", "x") == "object"


def test_vlm_describer_with_a_local_captioning_model(setup, tmp_path):
    src, gen, clip = setup
    model_dir = _tiny_captioner(tmp_path / "blip")
    d = VlmDescriber(clip, model_dir, VOCAB, short_tokens=4, long_tokens=10)
    crops = [rgb(src[i].image)[40:120, 50:200] for i in range(2)]
    out = d.describe(crops, torch.zeros(2, 16))
    assert len(out.names) == len(out.long_names) == 2
    assert all(isinstance(n, str) and n and not any(c.isdigit() for c in n) for n in out.names + out.long_names)
    assert out.names != out.long_names  # two prompts, two lengths
    assert torch.allclose(out.short, clip.text.encode(out.names, ["{}"]).float(), atol=1e-5)
    assert torch.allclose(out.long, clip.text.encode(out.long_names, ["{}"]).float(), atol=1e-5)
    vocab = clip.text.encode(VOCAB).float()
    assert out.vocab_index.tolist() == (out.short @ vocab.t()).argmax(1).tolist()  # labels for Semantic-E2VID
    # through the config: describer vlm writes its captions into the cache
    g = guidance_settings({**TINY, "describer": "vlm", "vlm_path": str(model_dir), "vlm_short_tokens": 4,
                           "vlm_long_tokens": 6})
    sub = _Sub(src, 1)
    cache = ensure_guidance(g, sub, tmp_path / "out", random_teachers=True, progress=False)
    item = cache[0]["semantic"]
    assert item.names and item.long_names and item.names != item.long_names
    with pytest.raises(FileNotFoundError, match="captioning model"):
        VlmDescriber(clip, tmp_path / "nowhere", VOCAB)


class _Sub:
    def __init__(self, src, n):
        self.src, self.n = src, n
        self.width, self.height = src.width, src.height

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.src[i]

    def fingerprint(self):
        return {"sub": self.n, **self.src.fingerprint()}


def test_cache_resumes_holds_no_code_and_refuses_stale_settings(setup, tmp_path):
    src, gen, _ = setup
    calls = []

    def compute(i):
        calls.append(i)
        return gen(rgb(src[i].image))

    settings = {"test": 1}
    root = tmp_path / "cache"
    s1 = build_cache(root, 3, compute, settings, shard_size=1, progress=False, stop_after_shards=1)
    assert s1 == {"shards": 3, "done": 1, "written": 1, "complete": False}
    with pytest.raises(CacheMismatch, match="incomplete.*shard_000001"):
        GuidanceCache(root, settings)

    def crash(i):  # dies in the middle of shard 1: nothing of it is kept
        if i == 1:
            raise KeyboardInterrupt
        return compute(i)

    with pytest.raises(KeyboardInterrupt):
        build_cache(root, 3, crash, settings, shard_size=1, progress=False)
    assert not (root / "shard_000001.npz").exists()
    calls.clear()
    s2 = build_cache(root, 3, compute, settings, shard_size=1, progress=True)
    assert s2["complete"] and s2["written"] == 2 and calls == [1, 2]
    cache = GuidanceCache(root, settings)
    fresh = gen(rgb(src[2].image))
    got = cache[2]
    for name, _ in GRANULARITIES:
        assert np.array_equal(got[name].masks, fresh[name].masks)
        assert np.array_equal(got[name].visual, fresh[name].visual) and got[name].names == fresh[name].names
    # plain arrays only: every member of a shard is a .npy that loads without pickle
    with zipfile.ZipFile(root / "shard_000000.npz") as z:
        assert all(n.endswith(".npy") for n in z.namelist())
    np.load(root / "shard_000000.npz", allow_pickle=False)["0/semantic/names"]
    with pytest.raises(CacheMismatch, match="stale.*differs in: test"):
        build_cache(root, 3, compute, {"test": 2}, shard_size=1, progress=False)
    (root / "shard_000002.npz").write_bytes(b"not a zip")
    with pytest.raises(CacheMismatch, match="damaged"):
        GuidanceCache(root, settings)[2]


def test_cache_key_follows_everything_that_made_it(setup, tmp_path):
    src, _, _ = setup
    sub = _Sub(src, 1)
    out = tmp_path / "run"
    g = guidance_settings(TINY)
    first = ensure_guidance(g, sub, out, random_teachers=True, progress=False)
    again = ensure_guidance(g, sub, out, random_teachers=True, progress=False)
    assert again.root == first.root  # reused
    other = ensure_guidance(guidance_settings({**TINY, "vocabulary": ["car", "bus"]}), sub, out,
                            random_teachers=True, progress=False)
    assert other.root != first.root and other.root.parent == first.root.parent
    assert json.loads((other.root / "manifest.json").read_text())["settings"]["vocabulary"] == ["car", "bus"]
    # a cache directory named explicitly but built otherwise is refused, naming what differs
    with pytest.raises(CacheMismatch, match="stale.*vocabulary"):
        ensure_guidance(guidance_settings({**TINY, "cache_dir": str(first.root), "vocabulary": ["bus"]}), sub,
                        out, random_teachers=True, progress=False)
    # the teacher's file is part of the key: other SAM weights, another cache
    from seal_ros.train.guidance import cache_settings

    a, b = tmp_path / "a.pth", tmp_path / "b.pth"
    a.write_bytes(b"1" * 100)
    b.write_bytes(b"2" * 100)
    ga = guidance_settings({**TINY, "sam": "vit_b", "sam_checkpoint": str(a)})
    gb = guidance_settings({**TINY, "sam": "vit_b", "sam_checkpoint": str(b)})
    assert cache_settings(ga, sub, False)["files"] != cache_settings(gb, sub, False)["files"]


def test_missing_or_toy_teachers_are_refused_by_name(tmp_path):
    with pytest.raises(TeacherMissing, match="guidance.sam: 'tiny' is a random toy teacher"):
        build_image_sam(guidance_settings(TINY), "cpu")
    with pytest.raises(TeacherMissing, match=r"guidance.sam_checkpoint is required .*models fetch --name sam_vit_b"):
        build_image_sam(guidance_settings({"sam": "vit_b"}), "cpu")
    with pytest.raises(TeacherMissing, match=r"guidance.sam_checkpoint: .*nope.pth not found"):
        build_image_sam(guidance_settings({"sam": "vit_b", "sam_checkpoint": str(tmp_path / "nope.pth")}), "cpu")
    with pytest.raises(TeacherMissing, match=r"guidance.clip is required .*clip_vit_l14_336"):
        build_guidance_clip(guidance_settings({"clip": None}), "cpu")
    with pytest.raises(TeacherMissing, match="guidance.clip: 'tiny' is a random toy teacher"):
        build_guidance_clip(guidance_settings({"clip": "tiny"}), "cpu")


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::torch.jit.TracerWarning")
def test_training_reads_openai_torchscript_clip_with_the_one_loader(tmp_path):
    """OpenAI's CLIP file is a TorchScript archive: the guidance CLIP (image and text towers) comes
    from the same loader as the segmenter's text encoder (tiny model of the same format)."""
    import open_clip

    from seal_ros.seal.text import build_clip_text_encoder
    from seal_ros.train.clip import build_clip

    cfg = {"embed_dim": 16, "quick_gelu": True,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 1, "layers": 1}}
    (tmp_path / "seal-test-openai-clip2.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(tmp_path / "seal-test-openai-clip2.json")
    torch.manual_seed(2)
    ref = open_clip.create_model("seal-test-openai-clip2").eval()
    tok = open_clip.get_tokenizer("seal-test-openai-clip2")(["a photo of a car."])
    path = tmp_path / "ViT-L-14-336px.pt"
    torch.jit.save(torch.jit.trace_module(ref, {"encode_text": (tok,)}), path)

    clip = build_clip(path, model_name="seal-test-openai-clip2")
    node_text = build_clip_text_encoder(path, model_name="seal-test-openai-clip2")
    assert torch.allclose(clip.text.encode(["car", "tree"]), node_text.encode(["car", "tree"]), atol=1e-6)
    img = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    with torch.no_grad():
        want = torch.nn.functional.normalize(ref.encode_image(clip._normalise([img])), dim=-1)
    assert torch.allclose(clip.encode_crops([img]), want, atol=2e-2)  # OpenAI-format loading goes through fp16
    assert clip.dense_features(img).shape == (16, 2, 2)
    with pytest.raises(FileNotFoundError, match="ViT-L-14-336px.pt"):
        build_clip(tmp_path / "missing.pt")


def test_the_node_classifies_with_the_text_encoder_tiny_guidance_used():
    from seal_ros.seal.export import text_encoder_from_spec
    from seal_ros.train.clip import clip_text_spec

    g = guidance_settings(TINY)
    trained = build_guidance_clip(g, "cpu", random_teachers=True).text.encode(VOCAB)
    deployed = text_encoder_from_spec(clip_text_spec(g)).encode(VOCAB)
    assert torch.equal(trained, deployed)
