"""The public Python API: what `import lstmgen` exports (prepare, train, Run, Generator, evaluate, estimate_log)."""
