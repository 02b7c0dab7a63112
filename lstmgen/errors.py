"""The one exception type for mistakes a user can fix; the CLI prints it as a single line."""

import click


class UserError(click.ClickException):
    """A problem with the user's input, files or options. The message says what and how to fix it.

    It is a ClickException so click (and click's test runner) report it as one line with exit code 1.
    """

    exit_code = 1
