"""Generators: WGAN-GP, DDPM and VAE/CVAE on a shared resumable trainer, and their stored samples."""
