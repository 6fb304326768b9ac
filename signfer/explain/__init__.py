"""Where models look and what they lose: occlusion masks (:mod:`.occlusion`), Grad-CAM saliency
(:mod:`.gradcam`) and the 2025 paper's experiments on run directories (:mod:`.experiments`:
occlusion robustness, histogram-equalisation ablation, face-region models, cross-data-set transfer).
See ``docs/experiments.md``."""
