"""Judge benchmark: Champion's judge vs Flagger-, Argo-style and classical rules on the same data."""
