"""``OpenAICompatibleBackend``: any server speaking the OpenAI chat/completions HTTP API.

Standard library only (``http.client`` keep-alive connections), so the HTTP path never
imports torch. Reliability rules:
- every request has a timeout;
- 429, 408, 5xx, timeouts, dropped connections and malformed JSON are retried at most
  ``max_retries`` times with exponential backoff and jitter; a ``Retry-After`` header is
  honoured (capped at ``max_backoff``);
- other 4xx are not retried; a prompt that still fails yields ``Generation(error=...)``;
- at most ``concurrency`` requests are in flight;
- the API key is read from an environment variable and never logged or put in an error.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any

from .backends import Backend, BackendError, Completion, Generation, Usage, validate_sampling

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class OpenAICompatibleBackend(Backend):
    """Chat (``endpoint="chat"``) or text completions (``"completions"``) over HTTP.

    ``base_url`` is the API root including the version, e.g. ``http://localhost:8000/v1``.
    """

    kind = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        endpoint: str = "chat",
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        max_backoff: float = 30.0,
        concurrency: int = 8,
        logprobs: bool = False,
        seed: int | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url={base_url!r} is invalid; allowed: an http(s):// URL")
        if endpoint not in ("chat", "completions"):
            raise ValueError(f"endpoint={endpoint!r} is invalid; allowed: 'chat', 'completions'")
        if not model:
            raise ValueError(f"model={model!r} is invalid; allowed: a non-empty model name")
        for name, value, low in (("timeout", timeout, 0.0), ("max_backoff", max_backoff, 0.0)):
            if not value > low:
                raise ValueError(f"{name}={value!r} is invalid; allowed: a number > {low}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries={max_retries!r} is invalid; allowed: an integer >= 0")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency={concurrency!r} is invalid; allowed: an integer >= 1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.endpoint = endpoint
        self.api_key_env = api_key_env
        self._api_key = os.environ.get(api_key_env) if api_key_env else None
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.backoff_base = float(backoff_base)
        self.max_backoff = float(max_backoff)
        self.concurrency = concurrency
        self.logprobs = logprobs
        self.supports_logprobs = logprobs
        self.seed = seed
        self.extra_body = dict(extra_body or {})
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._url = urllib.parse.urlsplit(self.base_url)
        self._local = threading.local()  # one keep-alive connection per worker thread
        self._connections: list[http.client.HTTPConnection] = []

    def __repr__(self) -> str:  # never shows the key
        return (
            f"OpenAICompatibleBackend(base_url={self.base_url!r}, model={self.model!r}, "
            f"endpoint={self.endpoint!r}, concurrency={self.concurrency})"
        )

    def identity(self) -> dict[str, Any]:
        return {"backend": self.kind, "model": self.model, "endpoint": self.endpoint}

    # -- HTTP -------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def check(self) -> None:
        url = f"{self.base_url}/models"
        request = urllib.request.Request(url, headers=self._headers(), method="GET")
        try:
            with urllib.request.urlopen(request, timeout=min(self.timeout, 10.0)) as response:
                response.read()
        except urllib.error.HTTPError as err:
            if err.code in (401, 403):
                raise BackendError(
                    f"endpoint {url} refused the credentials (HTTP {err.code}); set the API key "
                    f"in the environment variable {self.api_key_env!r}"
                ) from None
            # Any other HTTP answer means a server is there (some do not implement /models).
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise BackendError(f"cannot reach endpoint {url}: {reason}") from None

    def _body(self, prompt: str, max_tokens: int, temperature: float, stop, n: int) -> dict:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "n": n,
        }
        if self.endpoint == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        if stop:
            body["stop"] = list(stop)
        if self.logprobs:
            body["logprobs"] = True if self.endpoint == "chat" else 1
        if self.seed is not None:
            body["seed"] = self.seed
        body.update(self.extra_body)
        return body

    def _connection(self, fresh: bool = False) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's keep-alive connection (and whether it is being reused)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and not fresh:
            return conn, True
        if conn is not None:
            conn.close()
        cls = (
            http.client.HTTPSConnection
            if self._url.scheme == "https"
            else http.client.HTTPConnection
        )
        conn = cls(self._url.hostname, self._url.port, timeout=self.timeout)
        self._local.conn = conn
        with self._rng_lock:
            self._connections.append(conn)
        return conn, False

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _connect_unless_aborted(self, conn, abort: threading.Event | None) -> None:
        """Open ``conn``'s socket, then refuse to send if ``abort`` is set. The check runs
        under the lock ``interrupt`` takes, after the socket exists, so a request either sees
        the abort or has a socket that ``interrupt`` shuts down: none can slip in between."""
        if conn.sock is None:
            conn.connect()
        with self._rng_lock:
            if abort is not None and abort.is_set():
                raise ConnectionAbortedError("aborted")

    def _post_once(self, body: dict, abort: threading.Event | None = None) -> dict:
        path = (
            f"{self._url.path}/{'chat/completions' if self.endpoint == 'chat' else 'completions'}"
        )
        data = json.dumps(body).encode()
        headers = self._headers()
        conn, reused = self._connection()
        try:
            try:
                self._connect_unless_aborted(conn, abort)
                conn.request("POST", path, body=data, headers=headers)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused or (abort is not None and abort.is_set()):
                    raise
                # the server closed an idle keep-alive connection: reconnect once, not a retry
                conn, _ = self._connection(fresh=True)
                self._connect_unless_aborted(conn, abort)
                conn.request("POST", path, body=data, headers=headers)
                response = conn.getresponse()
            raw = response.read()
        except TimeoutError as err:
            self._drop_connection()
            raise _Retryable(f"timeout after {self.timeout:g}s") from err
        except (http.client.HTTPException, OSError) as err:
            self._drop_connection()
            raise _Retryable(f"connection error: {type(err).__name__}: {err}") from None
        if (response.getheader("Connection") or "").lower() == "close":
            self._drop_connection()
        if response.status >= 400:
            if response.status in RETRY_STATUS:
                retry_after = parse_retry_after(response.getheader("Retry-After"))
                raise _Retryable(f"HTTP {response.status}", retry_after)
            detail = raw[:300].decode("utf-8", "replace")
            endpoint = path[len(self._url.path) :]
            raise ValueError(f"HTTP {response.status} from {self.base_url}{endpoint}: {detail}")
        try:
            payload = json.loads(raw)
            if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
                raise ValueError("no 'choices' list")
        except ValueError as err:
            raise _Retryable(f"malformed response: {err}") from None
        return payload

    def _parse(self, payload: dict, stop) -> Generation:
        if not all(isinstance(c, dict) for c in payload["choices"]):
            raise _Retryable("malformed response: a choice is not an object")
        completions = []
        for choice in sorted(payload["choices"], key=lambda c: c.get("index", 0)):
            if self.endpoint == "chat":
                text = (choice.get("message") or {}).get("content")
            else:
                text = choice.get("text")
            if text is not None and not isinstance(text, str):
                raise _Retryable("malformed response: answer text is not a string")
            logprob, tokens = None, None
            lp = choice.get("logprobs")
            if isinstance(lp, dict):
                if isinstance(lp.get("content"), list):  # chat: [{token, logprob, ...}]
                    tokens = [
                        (str(t.get("token", "")), float(t.get("logprob") or 0.0))
                        for t in lp["content"]
                        if isinstance(t, dict)
                    ]
                elif isinstance(lp.get("token_logprobs"), list):  # completions: two lists
                    names = lp.get("tokens") or [""] * len(lp["token_logprobs"])
                    tokens = [
                        (str(t), float(x or 0.0))
                        for t, x in zip(names, lp["token_logprobs"], strict=False)
                    ]
                if tokens is not None:
                    logprob = float(sum(x for _, x in tokens))
            completions.append(
                Completion(
                    text=text or "",
                    finish_reason=choice.get("finish_reason"),
                    logprob=logprob,
                    tokens=tokens,
                )
            )
        usage = payload.get("usage") or {}
        return Generation(
            completions=completions,
            usage=Usage(
                int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
            ),
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        with self._rng_lock:
            jitter = self._rng.random()
        if retry_after is not None:
            return min(self.max_backoff, retry_after * (1.0 + 0.1 * jitter))
        # Exponential backoff with "equal jitter": half fixed, half random.
        cap = min(self.max_backoff, self.backoff_base * (2**attempt))
        return cap / 2 + jitter * cap / 2

    def generate_one(
        self, prompt: str, max_tokens=256, temperature=0.0, stop=None, n=1, abort=None
    ):
        """One prompt with retries; ``abort`` (a ``threading.Event``) stops between attempts."""
        body = self._body(prompt, max_tokens, temperature, stop, n)
        reasons = []
        for attempt in range(self.max_retries + 1):
            if abort is not None and abort.is_set():
                return Generation(error="aborted", attempts=attempt)
            try:
                generation = self._parse(self._post_once(body, abort), stop)
                generation.attempts = attempt + 1
                if len(generation.completions) < n:
                    return self._top_up(generation, body, n, stop, abort)
                return generation
            except _Retryable as err:
                reasons.append(str(err))
                if attempt == self.max_retries:
                    break
                delay = self._delay(attempt, err.retry_after)
                if abort is not None:
                    abort.wait(delay)
                else:
                    time.sleep(delay)
            except ValueError as err:  # a client error (4xx): retrying cannot help
                return Generation(error=str(err), attempts=attempt + 1)
            except Exception as err:  # noqa: BLE001 - one odd answer must not sink a long run
                return Generation(error=f"{type(err).__name__}: {err}", attempts=attempt + 1)
        return Generation(
            error=f"gave up after {len(reasons)} attempts: " + "; ".join(reasons[-3:]),
            attempts=len(reasons),
        )

    def _top_up(self, generation: Generation, body: dict, n: int, stop, abort=None) -> Generation:
        """Servers that ignore ``n`` (some llama.cpp builds) return one choice: ask again."""
        for _ in range(n):
            missing = n - len(generation.completions)
            if missing <= 0:
                break
            more = self.generate_one(
                body.get("prompt") or body["messages"][-1]["content"],
                body["max_tokens"], body["temperature"], stop, missing, abort,
            )  # fmt: skip
            if not more.ok or not more.completions:
                return more if not generation.completions else generation
            generation.completions += more.completions[:missing]
            generation.usage = generation.usage + more.usage
            generation.attempts += more.attempts
        return generation

    def stream(self, prompts: Sequence[str], *, max_tokens=256, temperature=0.0, stop=None, n=1):
        validate_sampling(max_tokens, temperature, n)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="llm-annotate")
        pending = {}
        prompts = list(prompts)
        next_index = 0
        abort = threading.Event()
        try:
            # Keep at most 2x concurrency futures queued so a huge job does not allocate all.
            while next_index < len(prompts) or pending:
                while next_index < len(prompts) and len(pending) < 2 * self.concurrency:
                    future = self._pool.submit(
                        self.generate_one,
                        prompts[next_index], max_tokens, temperature, stop, n, abort,
                    )  # fmt: skip
                    pending[future] = next_index
                    next_index += 1
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            if pending:  # stopped early (Ctrl-C, circuit breaker): drop what is in flight
                abort.set()
                for future in pending:
                    future.cancel()
                self.interrupt()

    def interrupt(self) -> None:
        """Break off every request in flight now (their threads see a closed connection)."""
        with self._rng_lock:
            connections = list(self._connections)
        for conn in connections:
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        with self._rng_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
