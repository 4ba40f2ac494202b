"""Sample images from exported fashiongan generators; ONNX and TFLite need no TensorFlow."""
