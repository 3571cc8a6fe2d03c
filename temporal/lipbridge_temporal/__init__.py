"""lipbridge on Temporal (docs/scale.md): one workflow per job, workers anywhere,
per-provider caps and submit rates across all of them, callbacks as signals.

Kept free of imports: Temporal's workflow sandbox imports this package."""
