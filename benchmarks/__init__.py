"""Benchmarks: one script per figure, the shared train-until loop (common.py), the renderer (render.py)."""
