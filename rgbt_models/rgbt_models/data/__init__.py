"""Data: data set loaders, transforms and the synthetic RGB-T scene generator."""
