"""Judging generated and resynthesised speech (docs/results.md, The judge).

- :mod:`speechgen.evaluation.metrics` — sample-set metrics over a judge classifier's softmax outputs and
  embeddings: ``inception_score``, ``modified_inception_score``, ``am_score``, ``fid`` (``gaussian_stats`` +
  ``frechet_distance``), ``fid_per_class``, ``ndb`` (with its ``kmeans``), ``label_accuracy``. numpy/scipy only.
- :mod:`speechgen.evaluation.speech` — pair metrics of an estimate against its time-aligned reference:
  ``pesq_wb``, ``stoi``, ``mel_cepstral_distortion``, ``mrstft_distance``, ``log_spectral_distance``,
  ``f0_rmse``, ``vuv_error``; ``compare_pair`` (all of them), ``compare_files`` / ``compare_dirs`` (files on disk,
  used by ``speechgen compare``).

Submodules are imported explicitly (``from speechgen.evaluation import metrics``) so that using the metrics does
not import torch or the PESQ/STOI packages.
"""
