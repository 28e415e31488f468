import time

import pytest
from llm_annotate import BackendError, OpenAICompatibleBackend
from llm_annotate.fake_server import FakeOpenAIServer, Faults
from llm_annotate.openai_backend import parse_retry_after


def backend_for(server, **kwargs):
    defaults = dict(timeout=0.5, backoff_base=0.01, max_backoff=0.5, concurrency=4)
    return OpenAICompatibleBackend(server.base_url, "fake", **{**defaults, **kwargs})


def test_chat_and_completions_endpoints():
    with FakeOpenAIServer(lambda p: f"echo:{p}") as server:
        for endpoint in ("chat", "completions"):
            backend = backend_for(server, endpoint=endpoint)
            (gen,) = backend.generate(["hi there"], n=2, stop=[":"])
            assert gen.ok and [c.text for c in gen.completions] == ["echo", "echo"]
            assert gen.usage.prompt_tokens > 0 and gen.usage.completion_tokens > 0
            backend.close()


def test_429_retry_after_is_honoured():
    faults = Faults(rate_429=1.0, retry_after=0.3)
    with FakeOpenAIServer(lambda p: "ok", faults) as server:
        backend = backend_for(server, max_retries=2)
        start = time.perf_counter()
        (gen,) = backend.generate(["x"])
        elapsed = time.perf_counter() - start
    assert not gen.ok and "HTTP 429" in gen.error and gen.attempts == 3
    assert server.attempts["x"] == 3
    assert elapsed >= 2 * 0.3  # waited Retry-After before each of the 2 retries


def test_transient_faults_are_retried_until_success():
    # every fault kind on early attempts; the RNG is per (prompt, attempt) so some succeed later
    faults = Faults(rate_500=0.2, rate_timeout=0.1, hang=1.0, rate_malformed=0.1, seed=3)
    with FakeOpenAIServer(lambda p: "fine", faults) as server:
        backend = backend_for(server, max_retries=8, timeout=0.3)
        gens = backend.generate([f"p{i}" for i in range(30)])
        backend.close()
    assert all(g.ok and g.completions[0].text == "fine" for g in gens)
    assert sum(g.attempts > 1 for g in gens) > 0
    assert server.outcomes["500"] > 0 and server.outcomes["malformed"] > 0


def test_client_errors_are_not_retried():
    with FakeOpenAIServer() as server:
        backend = OpenAICompatibleBackend(server.base_url + "/nope", "fake", timeout=1.0)
        (gen,) = backend.generate(["x"])
    assert not gen.ok and "HTTP 404" in gen.error and gen.attempts == 1


def test_concurrency_limit():
    with FakeOpenAIServer(lambda p: "ok", latency=0.05) as server:
        backend = backend_for(server, concurrency=3)
        gens = backend.generate([f"p{i}" for i in range(24)])
        backend.close()
    assert all(g.ok for g in gens)
    assert server.max_in_flight == 3


def test_unreachable_endpoint_fails_fast_with_url():
    backend = OpenAICompatibleBackend("http://127.0.0.1:9/v1", "m", timeout=1.0)
    start = time.perf_counter()
    with pytest.raises(
        BackendError, match=r"cannot reach endpoint http://127\.0\.0\.1:9/v1/models"
    ):
        backend.check()
    assert time.perf_counter() - start < 5


def test_key_is_sent_but_never_shown(monkeypatch, caplog):
    secret = "sk-test-SECRET-123"
    monkeypatch.setenv("LLM_ANNOTATE_TEST_KEY", secret)
    with FakeOpenAIServer(lambda p: "ok") as server:
        backend = backend_for(server, api_key_env="LLM_ANNOTATE_TEST_KEY")
        (ok,) = backend.generate(["x"])
        backend.close()
        wrong = OpenAICompatibleBackend(
            server.base_url + "/missing", "fake", api_key_env="LLM_ANNOTATE_TEST_KEY"
        )
        (bad,) = wrong.generate(["y"])
        wrong.close()
    assert ok.ok and server.authorization == {f"Bearer {secret}"}
    assert not bad.ok and "HTTP 404" in bad.error
    assert secret not in repr(backend) and secret not in repr(wrong) and secret not in bad.error
    assert secret not in caplog.text


def test_backoff_has_jitter_and_cap():
    backend = OpenAICompatibleBackend("http://x/v1", "m", backoff_base=1.0, max_backoff=4.0)
    delays = [backend._delay(3, None) for _ in range(50)]
    assert all(2.0 <= d <= 4.0 for d in delays) and len(set(delays)) > 1
    assert backend._delay(0, 100.0) == 4.0  # Retry-After capped at max_backoff
    assert parse_retry_after("2") == 2.0 and parse_retry_after("soon") is None


def test_bad_arguments():
    for kwargs, match in [
        (dict(base_url="localhost:8000"), "base_url"),
        (dict(endpoint="embeddings"), "endpoint"),
        (dict(concurrency=0), "concurrency"),
        (dict(timeout=0), "timeout"),
        (dict(max_retries=-1), "max_retries"),
    ]:
        args = {"base_url": "http://x/v1", "model": "m", **kwargs}
        with pytest.raises(ValueError, match=match):
            OpenAICompatibleBackend(**args)


def test_servers_ignoring_n_are_topped_up():
    with FakeOpenAIServer(lambda p: "sample") as server:
        original = server.handle

        def one_choice(path, body):
            return original(path, {**body, "n": 1})

        server.handle = one_choice
        backend = backend_for(server)
        (gen,) = backend.generate(["x"], n=3, temperature=0.7)
        backend.close()
    assert gen.ok and len(gen.completions) == 3 and server.attempts["x"] == 3


def test_odd_payloads_become_failed_generations():
    bodies = iter(
        [b'{"choices": ["oops"]}', b"[1, 2]", b'{"choices": [{"message": {"content": 5}}]}']
    )
    with FakeOpenAIServer() as server:
        server.handle = lambda path, body: (200, {}, next(bodies))
        backend = backend_for(server, max_retries=2)
        (gen,) = backend.generate(["x"])
        backend.close()
    assert not gen.ok and gen.attempts == 3
    assert "a choice is not an object" in gen.error and "not a string" in gen.error
