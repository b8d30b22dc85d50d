"""Foundation every track uses: paths, device and seeds, the embedded models, generation, the training loop, weights on disk, data files and tables."""
