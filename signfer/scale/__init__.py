"""Beyond one process: parallel sweeps of training jobs and corpus annotation, restartable (see docs/scaling.md)."""
