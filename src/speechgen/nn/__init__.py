"""Layers shared by several models (conv blocks, upsamplers, residual stacks, weight-norm helpers, discriminators).

Import the module you need (``speechgen.nn.vocoder_blocks``, ``speechgen.nn.vocoder_discriminators``, ...);
``speechgen.nn.gated`` holds the gated residual unit of WaveNet, Parallel WaveGAN and DiffWave.
"""
