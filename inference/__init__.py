"""Sample images from exported fashiongan generators; ONNX and TFLite need no TensorFlow.

    import inference
    sampler = inference.load("exports/dcgan")   # an export folder, or one .onnx/.tflite/.keras/.h5 file
    images = sampler.sample(64, seed=0)         # uint8, N×28×28
    inference.save_grid(images, "grid.png", nrow=8)
"""
from inference.errors import FashionGANError
from inference.grid import make_grid, save_grid, save_png, to_uint8
from inference.sampler import Sampler, SamplerError, load

__all__ = ["FashionGANError", "Sampler", "SamplerError", "load", "make_grid", "save_grid", "save_png", "to_uint8"]
