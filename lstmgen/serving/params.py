"""What `POST /v1/generate` accepts: each parameter's type and range, checked before anything runs, and the OpenAPI
document that says the same. Every problem is an ApiError: an HTTP status and one line for the client."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from lstmgen import __version__


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Limits:
    """Caps a client cannot exceed; each is a `lstmgen serve` option."""

    max_length: int = 10_000  # characters per sample
    max_samples: int = 16  # samples per request
    max_streams: int = 128  # samples being generated at once, all clients together (429 above)
    max_prime: int = 10_000  # characters of prime (each costs one step)
    max_body: int = 65_536  # bytes of request body (413 above)


# name: (JSON types accepted, description, default)
PARAMS: dict[str, tuple[str, str, str | int | float | bool | None]] = {
    "prime": ("string", "text to start from; characters outside the vocabulary are mapped or dropped", ""),
    "length": ("integer", "characters to generate per sample", 500),
    "temperature": ("number", "softmax temperature, above 0", 1.0),
    "top_k": ("integer", "sample among the k likeliest (0: off)", 0),
    "top_p": ("number", "nucleus sampling mass in (0, 1] (1: off)", 1.0),
    "greedy": ("boolean", "always take the likeliest character (no top_k/top_p with it)", False),
    "seed": ("integer", "random seed (0 or more) for a reproducible sample; null: random", None),
    "num_samples": ("integer", "samples generated together", 1),
    "model": ("string", "a name from GET /v1/models (default: the first)", None),
    "stream": ("boolean", "stream text as server-sent events as it is produced", False),
}


def _show(value) -> str:
    """A value for an error line, cut short (a 4,000-digit number is one line, but not a readable one)."""
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass
class GenerateParams:
    """A checked `POST /v1/generate` body, defaults filled in (see PARAMS)."""

    prime: str
    length: int
    temperature: float
    top_k: int
    top_p: float
    greedy: bool
    seed: int | None
    num_samples: int
    model: str
    stream: bool

    def sampling(self) -> dict:
        return {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p, "greedy": self.greedy}


T = TypeVar("T")
Body = dict[str, object]


def _given(body: Body, name: str) -> object:
    """The body's value for `name`, or its default when the body leaves it out."""
    return body[name] if name in body else PARAMS[name][2]


def _wrong_type(name: str, value: object) -> ApiError:
    kind = PARAMS[name][0]
    return ApiError(400, f"{name} must be {'an' if kind[0] in 'aeiou' else 'a'} {kind}, got {_show(value)}")


def _string(body: Body, name: str) -> str:
    value = _given(body, name)
    if isinstance(value, str):
        return value
    raise _wrong_type(name, value)


def _integer(body: Body, name: str) -> int:
    value = _given(body, name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _wrong_type(name, value)


def _number(body: Body, name: str) -> float:
    value = _given(body, name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value  # an int stays an int (the response echoes it as sent)
    raise _wrong_type(name, value)


def _boolean(body: Body, name: str) -> bool:
    value = _given(body, name)
    if isinstance(value, bool):
        return value
    raise _wrong_type(name, value)


def _or_null(parse: Callable[[Body, str], T], body: Body, name: str) -> T | None:
    """For a parameter whose default is null: null (given or left out), else what `parse` accepts."""
    return None if _given(body, name) is None else parse(body, name)


def parse_body(raw: bytes, limits: Limits, models: list[str]) -> GenerateParams:
    """The request's parameters with defaults filled in, or ApiError(400/413/404) saying what is wrong."""
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError) as e:
        raise ApiError(
            400,
            f"the request body is not valid JSON ({str(e).splitlines()[0][:120]}); send an object "
            'such as {"prime": "The ", "length": 200}',
        ) from None
    if not isinstance(body, dict):
        raise ApiError(400, f"the request body must be a JSON object, got {type(body).__name__}")
    unknown = sorted(set(body) - set(PARAMS))
    if unknown:
        raise ApiError(400, f"unknown parameter {unknown[0]!r}; known: {', '.join(PARAMS)}")
    # read in PARAMS' order, so the first wrong type reported is the same whatever the body's order
    prime, length, temperature = _string(body, "prime"), _integer(body, "length"), _number(body, "temperature")
    top_k, top_p, greedy = _integer(body, "top_k"), _number(body, "top_p"), _boolean(body, "greedy")
    seed, num_samples = _or_null(_integer, body, "seed"), _integer(body, "num_samples")
    model, stream = _or_null(_string, body, "model"), _boolean(body, "stream")
    if not 0 <= length <= limits.max_length:
        raise ApiError(400, f"length must be between 0 and {limits.max_length}, got {_show(length)}")
    if not 1 <= num_samples <= limits.max_samples:
        raise ApiError(400, f"num_samples must be between 1 and {limits.max_samples}, got {_show(num_samples)}")
    if len(prime) > limits.max_prime:
        raise ApiError(400, f"prime is {len(prime)} characters; at most {limits.max_prime} are allowed")
    if not math.isfinite(temperature) or temperature <= 0:  # json.loads accepts NaN and Infinity
        raise ApiError(
            400, f"temperature must be a finite number above 0, got {_show(temperature)}; use greedy for argmax"
        )
    if not (0 < top_p <= 1):
        raise ApiError(400, f"top_p must be in (0, 1], got {_show(top_p)}")
    if top_k < 0:
        raise ApiError(400, f"top_k must be 0 (off) or positive, got {_show(top_k)}")
    if greedy and (top_k or top_p < 1):
        raise ApiError(400, "greedy always takes the likeliest character; drop top_k/top_p or greedy")
    if seed is not None and not 0 <= seed < 2**63:
        raise ApiError(400, f"seed must be between 0 and 2**63 - 1, got {_show(seed)}")
    if model is None:
        model = models[0]
    elif model not in models:
        raise ApiError(404, f"unknown model {model!r}; GET /v1/models lists them: {', '.join(models)}")
    return GenerateParams(prime, length, temperature, top_k, top_p, greedy, seed, num_samples, model, stream)


def openapi(limits: Limits) -> dict:
    """The OpenAPI 3.1 description of the API (served at /openapi.json)."""
    props = {
        name: {
            "type": [kind, "null"] if default is None else kind,
            "description": desc,
            **({} if default is None else {"default": default}),
        }
        for name, (kind, desc, default) in PARAMS.items()
    }
    props["length"].update(minimum=0, maximum=limits.max_length)
    props["num_samples"].update(minimum=1, maximum=limits.max_samples)
    props["temperature"]["exclusiveMinimum"] = 0
    props["top_p"].update(exclusiveMinimum=0, maximum=1)
    props["top_k"]["minimum"] = 0
    props["prime"]["maxLength"] = limits.max_prime
    error = {
        "description": "one-line error",
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
            }
        },
    }
    auth: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "lstmgen",
            "version": __version__,
            "description": "Character-level LSTM text generation; all requests in flight share one batched step.",
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "only when the server was given --token"}
            }
        },
        "paths": {
            "/v1/generate": {
                "post": {
                    "summary": "Generate text",
                    "security": auth,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "additionalProperties": False, "properties": props}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "JSON {model, prime, length, seed, sampling, samples} (samples include the "
                            "prime used); with stream: server-sent events: `start` {model, prime, "
                            "num_samples}, then messages {sample, text}, then `done` {samples}",
                            "content": {"application/json": {}, "text/event-stream": {}},
                        },
                        "400": error,
                        "401": error,
                        "404": error,
                        "413": error,
                        "429": error,
                    },
                }
            },
            "/v1/models": {
                "get": {
                    "summary": "The models served: name, shape, vocabulary size, training data, best validation loss",
                    "security": auth,
                    "responses": {"200": {"description": "{models: [...]}"}, "401": error},
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness: status, streams in flight",
                    "responses": {"200": {"description": "{status, streams, models}"}},
                }
            },
            "/": {"get": {"summary": "The web page", "responses": {"200": {"description": "HTML"}}}},
        },
    }
