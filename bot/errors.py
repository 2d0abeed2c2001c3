"""User-facing errors.

Every error a user can trigger is a `BotError` whose message says what happened and what to
do about it. The CLI prints the message and exits non-zero; the HTTP API answers with the
error's `status_code`: a 4xx for bad input, 502/503 when a server it needs (the LLM, Chroma)
fails or it is too busy. Anything that is not a `BotError` is a bug.
"""


class BotError(Exception):
    """An error caused by input or configuration that the user can fix."""

    #: HTTP status the API answers with for this error.
    status_code = 400


class InvalidQuestionError(BotError):
    """The question is empty, too long, or otherwise unusable."""

    status_code = 422


class InvalidRequestError(BotError):
    """A request that is well-formed but unusable, such as two files where one is expected."""

    status_code = 422


class EmptyIndexError(BotError):
    """There is nothing to search: no documents have been ingested."""

    status_code = 409


class ModelMismatchError(BotError):
    """The index was built with a different embedding model than the configured one."""

    status_code = 409


class UnsupportedFileError(BotError):
    """A file cannot be ingested (unknown type, binary, bad encoding, malformed JSONL)."""

    status_code = 415


class DocumentNotFoundError(BotError):
    """A document id that is not in the index."""

    status_code = 404


class ConfigError(BotError):
    """A setting has an invalid value."""


class StoreUnavailableError(BotError):
    """The vector store (for example a Chroma server) cannot be reached."""

    status_code = 503


class LLMError(BotError):
    """The configured LLM server failed or could not be reached."""

    status_code = 502


class BusyError(BotError):
    """Too many requests are already waiting for an answer."""

    status_code = 503


class UploadTooLargeError(UnsupportedFileError):
    """An upload over the configured size limit."""

    status_code = 413


class IndexMismatchError(BotError):
    """The catalog and the vector store disagree: answers would come from half an index."""

    status_code = 503


class DataDirInUseError(BotError):
    """The data folder is open in another process, so it cannot be replaced now."""

    status_code = 409


class WebError(UnsupportedFileError):
    """A URL that cannot be fetched (refused address, too large, too many redirects, an error
    status) or that holds no article."""
