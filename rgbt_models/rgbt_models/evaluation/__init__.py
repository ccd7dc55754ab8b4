"""Evaluation of trained models on data sets: the core (`core`: metrics accumulated frame by frame
and their results), its inputs (`inputs`: data sets prepared at the model's geometry) and its
Ray route (`on_ray`: chunks of frames on workers, merged in frame order)."""
