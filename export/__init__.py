"""Export trained fashiongan generators to .keras, SavedModel, TFLite and ONNX."""
