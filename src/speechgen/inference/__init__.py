"""Running trained and shipped models: the one place ``api``, ``cli`` and ``web`` load and use models from.

- :mod:`speechgen.inference.loading` — :func:`~speechgen.inference.loading.load` (any checkpoint, optionally
  for one role), :func:`~speechgen.inference.loading.describe` / ``capabilities`` ("what can this checkpoint
  do"), ``load_generator``, ``data_section``;
- :mod:`speechgen.inference.generate` — :class:`~speechgen.inference.generate.Generator`: draw clips from a
  sampler and turn them into audio;
- :mod:`speechgen.inference.vocode` — ``load_vocoder``, ``synthesize``, ``vocode_file``;
- :mod:`speechgen.inference.latent` — reconstruction, interpolation and attribute arithmetic on auto-encoders.

Nothing here imports Lightning or a training scheme (a test checks ``sys.modules``). Submodules are imported
explicitly.
"""
