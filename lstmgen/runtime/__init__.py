"""The backend seam: picking and setting up the Keras backend, fused kernels, what the machine is."""
