"""lstmgen: character-level LSTM text generation on Keras 3."""

__version__ = "0.1.0"
FORMAT_VERSION = 1  # bumped when run-directory or prepared-directory layouts change incompatibly
