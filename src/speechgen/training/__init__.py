"""Training: one LightningModule per scheme, recipes and registries, pickle-free checkpoints.

- :mod:`speechgen.training.registry` — ``MODELS``, ``SCHEMES``, ``load_recipe``, ``build_model``;
- :mod:`speechgen.training.recipe` — recipe parsing and typed validation;
- :mod:`speechgen.training.checkpoint` — ``save_checkpoint``, ``load_model``, ``save_state``/``load_state``,
  the Lightning ``SafeCheckpointIO`` plug-in;
- :mod:`speechgen.training.runner` — ``train(recipe, out, ...)`` used by ``speechgen train``;
- :mod:`speechgen.training.classifier` — the supervised classification scheme.

Submodules are imported explicitly so that loading a checkpoint does not import Lightning.
"""
