"""The exceptions lstmgen raises for mistakes a user can fix. The message is one line: what is wrong and how to fix it.

    >>> import lstmgen
    >>> try:
    ...     lstmgen.prepare("no-such-file.txt")
    ... except lstmgen.DataError as e:
    ...     print(e)                                     # doctest: +ELLIPSIS
    no-such-file.txt: no such file or directory; ...

The command line prints them as `lstmgen: error: MESSAGE` and exits with `exit_code` (1).
"""


class LstmgenError(Exception):
    """A problem with the user's input, files or options (every lstmgen error derives from it).

    >>> try:
    ...     lstmgen.train("book.txt", epoch=3)
    ... except lstmgen.LstmgenError as e:
    ...     print(e)                                              # doctest: +ELLIPSIS
    unknown config key 'epoch' (did you mean 'epochs'?); valid keys: ...
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def format_message(self) -> str:
        """The message, as click's exceptions name it (the CLI prints every error the same way)."""
        return self.message


class ConfigError(LstmgenError):
    """A configuration key, option value or config file that cannot be used.

    >>> lstmgen.train("book.txt", units="many")                  # doctest: +SKIP
    ConfigError: config key 'units' must be an integer, got 'many'
    """


class DataError(LstmgenError):
    """A text source that cannot be read, decoded or prepared, or a prepared corpus that is damaged.

    >>> lstmgen.prepare("no-such-file.txt")                      # doctest: +SKIP
    DataError: no-such-file.txt: no such file or directory, nor a catalog name (...); pass ...
    """


class RunError(LstmgenError):
    """A run directory, checkpoint or model file that cannot be used as asked.

    >>> lstmgen.Run("notes/")                                     # doctest: +SKIP
    RunError: 'notes' is not a run directory (it has no run.json written by lstmgen); train one with ...
    """


class LogError(LstmgenError):
    """A training log (or a time given with it) that `estimate --log` cannot read.

    >>> lstmgen.estimate_log("fit.log", started="25:99")          # doctest: +SKIP
    LogError: cannot read time '25:99': not a valid clock time; use HH:MM[:SS], ...
    """


UserError = LstmgenError  # the name the modules used before the public API: kept so their `raise` lines read the same
