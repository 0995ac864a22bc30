"""Inference: model runtimes (onnxruntime, llama.cpp), the model catalog, and the simulated
inference nodes that take PIPE attempts and run them."""
