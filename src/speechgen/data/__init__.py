"""Corpora, manifests, cached features and Lightning data modules."""
