"""Notebook 02: the custom CNN for visual inspection: image data, augmentation, the model and its evaluation."""
