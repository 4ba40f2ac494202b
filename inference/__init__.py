"""Sample images from exported fashiongan generators; ONNX and TFLite need no TensorFlow.

from fashiongan import inference
sampler = inference.load("fashion_mnist")    # a pretrained name, an export folder or one model file
images = sampler.sample(64, seed=0)          # uint8, N×28×28
inference.save_grid(images, "grid.png", nrow=8)
"""

from fashiongan.errors import FashionGANError
from fashiongan.inference.grid import make_grid, save_grid, save_png, to_uint8
from fashiongan.inference.sampler import Sampler, SamplerError, load

__all__ = ["FashionGANError", "Sampler", "SamplerError", "load", "make_grid", "save_grid", "save_png", "to_uint8"]
