"""Layers shared by several models (conv blocks, upsamplers, residual stacks, weight-norm helpers, discriminators).

Import the module you need (``speechgen.nn.vocoder_blocks``, ``speechgen.nn.vocoder_discriminators``, ...);
``speechgen.nn.gated`` holds the gated residual unit of WaveNet, Parallel WaveGAN and DiffWave;
``speechgen.nn.attention`` the location-sensitive (Tacotron 2) and content-based additive (Tacotron) attention of
sequence-to-sequence decoders; ``speechgen.nn.cbhg`` Tacotron's CBHG and ``speechgen.nn.prenet`` its pre-net.
"""
