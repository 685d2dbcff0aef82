"""videomodel: the video world model (design.md).

    autoencoder   VideoAutoencoder: per-frame 64x64x3 <-> 16x16x4 latents ("video compressor")
    dit           VideoDiT: spatio-temporal DiT, adaLN-Zero, classifier-free guidance
    objectives    FlowMatching (velocity), EpsilonDiffusion (cosine DDPM noise)
    samplers      EulerSampler, HeunSampler (flow), DDIMSampler (epsilon)
    text_encoder  TextEncoder: all-MiniLM-L6-v2 sentence embeddings, cached
    world_model   DiTWorldModel: all of the above as a `VideoModel` (imagine / loss / save / load)
    still         StillVideoModel: imagines that nothing moves (the null baseline)
"""
