"""Training schemes: one training *regime* per module (not one model), each a LightningModule + its recipe sections.

- :mod:`~speechgen.training.schemes.classification` — ``classifier``: supervised classification (the judge);
- :mod:`~speechgen.training.schemes.gan` — ``gan``: GAN / DCGAN / WGAN-GP / conditional and controllable GANs,
  WaveGAN, SpecGAN;
- :mod:`~speechgen.training.schemes.autoencoder` — ``vae``: VAE, conditional VAE, WAE-MMD, WAE-GAN;
- :mod:`~speechgen.training.schemes.learned_similarity` — ``vaegan``: VAE-GAN (reconstruction in a
  discriminator's feature space);
- :mod:`~speechgen.training.schemes.autoregressive` — ``autoregressive``: WaveNet, WaveRNN (teacher forcing);
- :mod:`~speechgen.training.schemes.gan_vocoder` — ``vocoder``: GAN vocoders and their supervised stages;
- :mod:`~speechgen.training.schemes.tts` — ``tts``: text-to-speech (Tacotron 2, teacher forcing, guided attention);
- :mod:`~speechgen.training.schemes.generative` — what the generative schemes share (data/train sections, EMA,
  sample rounds).

The adversarial update they share lives in :mod:`speechgen.training.adversarial`.
"""
