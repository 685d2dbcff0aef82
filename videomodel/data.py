"""Training data for the autoencoder (single frames) and the DiT (latent clips with subgoal text).

The DiT never sees pixels: every recorded frame is encoded once by the trained autoencoder, and clips are
cut from those latents in memory -- frames t, t+k, ..., t+Tk inside one subgoal segment (the windows of
sim.dataset.WindowDataset), with the subgoal's text in its canonical wording or one of its training paraphrases.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from sim.dataset import EpisodeStore, WindowDataset
from sim.targets import PHRASINGS, Target
from videomodel.autoencoder import weighted_pixel_mask
from videomodel.latent_cache import episode_key, load_latents, save_latents


class Frames(Dataset):
    """Every `every`-th frame of every successful episode, uint8 [H, W, 3], held in memory, with the mask
    (bool [H, W]) of its pixels the reconstruction loss weighs more (videomodel.autoencoder.WEIGHTED_PIXELS)."""

    def __init__(self, source, every: int = 2, weighted_pixels: str = "foreground"):
        store = EpisodeStore(source)
        self.env_config = store.env_config
        frames, weighted = [], []
        for e in range(len(store)):
            episode = store.group(e)["frames"][()]  # whole: the moving mask needs every frame's pixel
            frames.append(episode[::every])
            weighted.append(weighted_pixel_mask(episode, weighted_pixels)[::every, 0].bool().numpy())
        store.close()
        self.frames, self.weighted = np.concatenate(frames), np.concatenate(weighted)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> dict:
        return {"frames": self.frames[i], "weighted": self.weighted[i]}


class LatentClips(Dataset):
    """Items: latents float32 [1 + horizon, C, h, w] (normalised, frame 0 the context), text (str) and
    foreground float32 [1 + horizon, h, w]: 1 on latent cells that cover a weighted pixel (`weighted_pixels`,
    videomodel.autoencoder.WEIGHTED_PIXELS: on the tabletop a block or the pusher).

    With `past_end=False` only clips that end inside their subgoal segment are kept (plus the first clip of a
    segment too short for one). A clip that runs past the end repeats the segment's final frame: the
    tabletop's subgoal segments are short next to a clip, so that is most of them, and a DiT trained on them
    learns that the block reaches its goal within a clip and then rests, which the agent -- asking only while
    the subgoal is not reached -- rarely sees.

    `cache_file` (videomodel.latent_cache): read the encoded frames from it when it holds this dataset's
    episodes, else encode them and write it."""

    def __init__(self, source, encode_frames, horizon: int, stride: int, paraphrase_prob: float = 0.5,
                 batch: int = 256, past_end: bool = True, cache_file: str | Path | None = None,
                 weighted_pixels: str = "foreground"):
        windows = WindowDataset(source, horizon=horizon, stride=stride)
        self.horizon, self.stride = horizon, stride
        span = horizon * stride
        self.index = [(e, s, end, t) for e, s, end, t in windows.index
                      if past_end or t + span <= end or (t == s and end - s < span)]
        refs = windows.store.refs
        cached = load_latents(Path(cache_file), refs) if cache_file else None
        if cached is not None:
            self.latents = [cached[episode_key(r)][0] for r in refs]
            self.foreground = [cached[episode_key(r)][1] for r in refs]
        else:
            self.latents, self.foreground = [], []
            for e in tqdm(range(len(refs)), desc="encode frames", unit="ep"):
                frames = windows.store.group(e)["frames"][()]
                z = torch.cat([encode_frames(frames[None, i : i + batch])[0] for i in range(0, len(frames), batch)])
                self.latents.append(z.half())
                mask = weighted_pixel_mask(frames, weighted_pixels)  # pixels -> the latent cells they fall in
                self.foreground.append(torch.nn.functional.adaptive_max_pool2d(mask, z.shape[-2:])[:, 0].bool())
            if cache_file:
                save_latents(Path(cache_file), refs, self.latents, self.foreground)
        windows.store.close()
        self.paraphrase_prob = paraphrase_prob
        self.texts: dict[tuple[int, int], list[str]] = {}
        for (e, s), sg in windows._texts.items():
            if sg.get("target") is None:  # a subgoal with no machine-checkable target (Meta-World's task text)
                self.texts[(e, s)] = [sg["text"]]
                continue
            target = Target.from_dict(sg["target"])
            self.texts[(e, s)] = [sg["text"]] + [target.phrase(p) for p in PHRASINGS[target.kind][1:]]

    def all_texts(self) -> list[str]:
        return sorted({t for variants in self.texts.values() for t in variants})

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        return self.clip(i, random)

    def clip(self, i: int, rng: random.Random) -> dict:
        """Item i, its text drawn with `rng` (the `random` module, or a seeded random.Random)."""
        e, s, end, t = self.index[i]
        steps = np.minimum(t + np.arange(self.horizon + 1) * self.stride, end)
        variants = self.texts[(e, s)]
        text = variants[0] if rng.random() >= self.paraphrase_prob else rng.choice(variants)
        return {"latents": self.latents[e][steps].float(), "text": text,
                "foreground": self.foreground[e][steps].float()}
