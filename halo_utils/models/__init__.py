"""Keras model builders. Importing this package does not import TensorFlow; the builders do."""
