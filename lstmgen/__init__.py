"""lstmgen: character-level LSTM text generation on Keras 3."""

__version__ = "0.1.0"
FORMAT_VERSION = 1  # bumped when run-directory or prepared-directory layouts change incompatibly


def __getattr__(name: str):
    """`lstmgen.EtaCallback` is imported on first use, so `import lstmgen` does not import Keras."""
    if name == "EtaCallback":
        from lstmgen.training.etacallback import EtaCallback

        return EtaCallback
    raise AttributeError(f"module 'lstmgen' has no attribute {name!r}")
