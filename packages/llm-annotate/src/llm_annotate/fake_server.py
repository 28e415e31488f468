"""A fake OpenAI-compatible server on loopback, with fault injection, for tests and benchmarks.

    with FakeOpenAIServer(responder, faults=Faults(rate_429=0.1, rate_500=0.1)) as server:
        backend = OpenAICompatibleBackend(server.base_url, "fake")

Faults are drawn per request from a RNG seeded by (seed, prompt, attempt number of that
prompt), so a run is reproducible whatever the thread interleaving. ``always_fail`` makes a
fixed fraction of prompts answer HTTP 500 every time (items that must end as "failed").
``paid`` counts successful answers per prompt: what a user would have paid for. A request
with ``logprobs`` gets per-token log-probabilities of ``log(confidence(prompt))``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[str], "str | Sequence[str]"]


@dataclass
class Faults:
    rate_429: float = 0.0  # answer 429 with Retry-After: retry_after seconds
    retry_after: float = 0.05
    rate_500: float = 0.0
    rate_timeout: float = 0.0  # sleep hang seconds before answering (client should time out)
    hang: float = 2.0
    rate_malformed: float = 0.0  # 200 with a body that is not JSON
    rate_truncated: float = 0.0  # 200, text cut to a few characters, finish_reason "length"
    rate_empty: float = 0.0  # 200 with empty content
    always_fail: float = 0.0  # fraction of prompts that always get HTTP 500
    seed: int = 0


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request (the SIGKILL test) is expected, not an error


class FakeOpenAIServer:
    def __init__(
        self,
        responder: Responder | None = None,
        faults: Faults | None = None,
        latency: float = 0.0,
        model: str = "fake-model",
        port: int = 0,
        confidence: Callable[[str], float] | None = None,
    ) -> None:
        self.responder = responder or (lambda prompt: "So the answer is: unknown")
        # prompt -> probability of each answer token, returned when a request asks for logprobs
        self.confidence = confidence or (lambda prompt: 0.9)
        self.faults = faults or Faults()
        self.latency = latency
        self.model = model
        self.requested_port = port
        self.lock = threading.Lock()
        self.attempts: Counter[str] = Counter()  # requests per prompt
        self.paid: Counter[str] = Counter()  # successful answers per prompt
        self.outcomes: Counter[str] = Counter()
        self.authorization: set[str | None] = set()  # Authorization headers seen
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def _fault(self, prompt: str, attempt: int) -> str | None:
        f = self.faults
        digest = hashlib.sha256(f"{f.seed}|{prompt}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 < f.always_fail:
            return "500"
        rng = random.Random(f"{f.seed}|{prompt}|{attempt}")
        u = rng.random()
        for name, rate in (
            ("429", f.rate_429),
            ("500", f.rate_500),
            ("timeout", f.rate_timeout),
            ("malformed", f.rate_malformed),
            ("truncated", f.rate_truncated),
            ("empty", f.rate_empty),
        ):
            if u < rate:
                return name
            u -= rate
        return None

    def handle(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        chat = path.endswith("/chat/completions")
        if chat:
            messages = body.get("messages") or [{}]
            prompt = str(messages[-1].get("content", ""))
        else:
            prompt = str(body.get("prompt", ""))
        with self.lock:
            self.attempts[prompt] += 1
            attempt = self.attempts[prompt]
        fault = self._fault(prompt, attempt)
        if self.latency:
            time.sleep(self.latency)
        with self.lock:
            self.outcomes[fault or "ok"] += 1
        if fault == "429":
            headers = {"Retry-After": f"{self.faults.retry_after:g}"}
            return 429, headers, b'{"error": {"message": "rate limited"}}'
        if fault == "500":
            return 500, {}, b'{"error": {"message": "internal error"}}'
        if fault == "timeout":
            time.sleep(self.faults.hang)
        if fault == "malformed":
            return 200, {}, b'{"choices": [{"message": {"content": "So the ans'
        n = int(body.get("n") or 1)
        answer = self.responder(prompt)
        samples = [answer] if isinstance(answer, str) else list(answer)
        choices, completion_tokens = [], 0
        for i in range(n):
            text, finish = samples[i % len(samples)], "stop"
            for s in body.get("stop") or ():
                if s and s in text:
                    text = text[: text.index(s)]
            if fault == "truncated":
                text, finish = text[: max(1, len(text) // 5)], "length"
            elif fault == "empty":
                text = ""
            completion_tokens += max(1, len(text) // 4)
            content: dict[str, Any] = (
                {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
            )
            if body.get("logprobs"):
                tokens = re.findall(r"\s*\S+|\s+$", text)
                logprob = math.log(max(1e-12, min(1.0, self.confidence(prompt))))
                if chat:
                    content["logprobs"] = {
                        "content": [{"token": t, "logprob": logprob} for t in tokens]
                    }
                else:
                    content["logprobs"] = {
                        "tokens": tokens, "token_logprobs": [logprob] * len(tokens)
                    }  # fmt: skip
            choices.append({"index": i, **content, "finish_reason": finish})
        if fault is None or fault == "timeout":
            with self.lock:
                self.paid[prompt] += 1
        payload = {
            "id": f"fake-{attempt}",
            "object": "chat.completion" if chat else "text_completion",
            "model": body.get("model", self.model),
            "choices": choices,
            "usage": {
                "prompt_tokens": max(1, len(prompt) // 4),
                "completion_tokens": completion_tokens,
                "total_tokens": max(1, len(prompt) // 4) + completion_tokens,
            },
        }
        return 200, {}, json.dumps(payload).encode()

    def start(self) -> FakeOpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like real inference servers
            disable_nagle_algorithm = True  # no delayed-ACK stalls between headers and body

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): nothing to do

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                if self.path.rstrip("/").endswith("/models"):
                    data = json.dumps({"data": [{"id": server.model, "object": "model"}]})
                    self._send(200, {}, data.encode())
                else:
                    self._send(404, {}, b'{"error": "not found"}')

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length") or 0)
                if self.path not in ("/v1/chat/completions", "/v1/completions"):
                    self.rfile.read(length)
                    self._send(404, {}, b'{"error": {"message": "no such endpoint"}}')
                    return
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, {}, b'{"error": "bad json"}')
                    return
                with server.lock:
                    server.authorization.add(self.headers.get("Authorization"))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._send(*server.handle(self.path, body))
                finally:
                    with server.lock:
                        server.in_flight -= 1

        self._httpd = _QuietServer(("127.0.0.1", self.requested_port), Handler)
        self._httpd.daemon_threads = True
        self._httpd.request_queue_size = 128
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve a fixed-latency fake endpoint (``python -m llm_annotate.fake_server``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--answer", default="So the answer is: yes")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(lambda p: args.answer, latency=args.latency, port=args.port).start()
    print(f"serving on {server.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
