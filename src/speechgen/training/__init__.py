"""Training: recipes, the trainer and the training schemes. Only ``speechgen train`` imports this package.

- :mod:`speechgen.training.recipe` — recipe parsing, ``base:`` resolution and typed validation;
- :mod:`speechgen.training.registry` — ``SCHEMES``, ``load_recipe``, ``build_model``;
- :mod:`speechgen.training.runner` — ``train(recipe, out, ...)``: the run folder, Lightning, final checkpoint;
- :mod:`speechgen.training.callbacks` — periodic checkpoints and exact resume;
- :mod:`speechgen.training.checkpoint_io` — the pickle-free Lightning checkpoint plug-in;
- :mod:`speechgen.training.optim` — optimiser / schedule sections and builders;
- :mod:`speechgen.training.adversarial` — the critic-then-generator update every adversarial scheme calls;
- :mod:`speechgen.training.schemes` — one module per training regime.

Checkpoints themselves are read and written by :mod:`speechgen.checkpoint`, models run through
:mod:`speechgen.inference`; neither imports this package.
"""
