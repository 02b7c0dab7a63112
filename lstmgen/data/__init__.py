"""Stage 1, data: sources and builtin corpora, the prepared-corpus store, vocabularies."""
