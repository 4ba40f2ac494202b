"""Architectures, data and training for fashiongan. Importing this package does not import TensorFlow."""
