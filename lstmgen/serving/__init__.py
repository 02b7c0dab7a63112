"""`lstmgen serve`: the generation engine as an HTTP API and a web page."""
