"""Is the server up, and does it answer sensibly? Asked on the head node itself (curl over its
Runner), so a firewall or a private interconnect address between here and the head does not matter.

    health(runner, port) -> bool
    served_models(runner, port) -> ["model-id", ...] or None
    smoke_chat(runner, port, model) -> Smoke(answer, ttft_s, seconds, error)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sparkpilot.transport.base import Runner

SMOKE_PROMPT = "What is the capital of France? Answer in one short sentence."
SMOKE_MAX_TOKENS = 32
TTFB = "__sparkpilot_ttfb="


def _url(port: int, path: str) -> str:
    return f"http://127.0.0.1:{port}{path}"


def health(runner: Runner, port: int, timeout: float = 5.0) -> bool:
    res = runner.run(["curl", "-s", "-o", "/dev/null", "-m", f"{timeout:g}", "-w", "%{http_code}",
                      _url(port, "/health")], timeout=timeout + 10)
    return res.rc == 0 and res.stdout.strip() == "200"


def served_models(runner: Runner, port: int, timeout: float = 10.0) -> list[str] | None:
    res = runner.run(["curl", "-sf", "-m", f"{timeout:g}", _url(port, "/v1/models")], timeout=timeout + 10)
    if res.rc != 0:
        return None
    try:
        data = json.loads(res.stdout)
    except json.JSONDecodeError:
        return None
    return [str(m.get("id")) for m in data.get("data") or [] if isinstance(m, dict) and m.get("id")]


@dataclass
class Smoke:
    answer: str | None
    ttft_s: float | None
    seconds: float
    error: str | None = None
    finish_reason: str | None = None
    token_probs: list[float] | None = None   # the probability the model gave each token it chose

    def to_dict(self) -> dict[str, Any]:
        probs = self.token_probs or []
        return {"answer": self.answer, "ttft_s": self.ttft_s, "seconds": round(self.seconds, 3),
                "error": self.error, "finish_reason": self.finish_reason,
                "mean_token_p": round(sum(probs) / len(probs), 3) if probs else None}


def chat_argv(port: int, model: str, prompt: str = SMOKE_PROMPT, max_tokens: int = SMOKE_MAX_TOKENS,
              timeout: float = 120.0) -> list[str]:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
            "temperature": 0, "stream": True, "logprobs": True}
    return ["curl", "-sS", "-N", "-m", f"{timeout:g}", "-H", "Content-Type: application/json",
            "-w", f"\n{TTFB}%{{time_starttransfer}}\n", "-d", json.dumps(body, separators=(",", ":")),
            _url(port, "/v1/chat/completions")]


def parse_chat_stream(text: str) -> tuple[str | None, float | None, str | None, str | None]:
    """(answer, time to first byte, finish reason, error) from curl's output of a streamed chat."""
    answer, ttfb, finish, error, _ = parse_chat_stream_probs(text)
    return answer, ttfb, finish, error


def parse_chat_stream_probs(text: str) -> tuple[str | None, float | None, str | None, str | None, list[float]]:
    """parse_chat_stream, and the probability of each chosen token (OpenAI `logprobs.content`)."""
    import math

    probs: list[float] = []
    parts: list[str] = []
    ttfb = finish = error = None
    seen = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(TTFB):
            try:
                ttfb = float(line[len(TTFB):])
            except ValueError:
                pass
            continue
        if line.startswith("{") and not seen:   # an error body instead of a stream
            try:
                body = json.loads(line)
                err = body.get("error") or body.get("message")
                error = (err.get("message") if isinstance(err, dict) else str(err)) if err else None
            except json.JSONDecodeError:
                pass
            continue
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            continue
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            continue
        seen = True
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            piece = delta.get("content")
            if piece:
                parts.append(piece)
            for tok in (choice.get("logprobs") or {}).get("content") or []:
                lp = tok.get("logprob") if isinstance(tok, dict) else None
                if isinstance(lp, (int, float)):
                    probs.append(math.exp(max(lp, -50.0)))
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
    return ("".join(parts) if seen else None), ttfb, finish, error, probs


def smoke_chat(runner: Runner, port: int, model: str, prompt: str = SMOKE_PROMPT,
               max_tokens: int = SMOKE_MAX_TOKENS, timeout: float = 120.0) -> Smoke:
    start = time.monotonic()
    res = runner.run(chat_argv(port, model, prompt, max_tokens, timeout), timeout=timeout + 15)
    answer, ttfb, finish, error, probs = parse_chat_stream_probs(res.stdout)
    if res.rc != 0 and error is None:
        error = (res.stderr.strip().splitlines() or [f"curl exit {res.rc}"])[-1]
    if answer is None and error is None:
        error = "no answer in the response"
    return Smoke(answer, ttfb, time.monotonic() - start, error, finish, probs or None)
