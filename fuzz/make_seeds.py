#!/usr/bin/env python3
"""Writes raw seed inputs for every fuzz target into OUT/<target>/ (default build-fuzz/seeds),
from the recorded provider payloads in tests/fixtures/, the JSON and YAML raw strings of the unit
tests, config/*.yaml and a few hand-written edge cases. The committed corpora in fuzz/corpus/ are
these seeds minimised with libFuzzer's -merge=1 (see fuzz/README.md, "Minimise a corpus").

Usage: fuzz/make_seeds.py [OUT]
"""
import hashlib
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
MAX = 16384  # scripts/fuzz.sh's default -max_len

RAW = re.compile(r'R"([^(\s"]{0,16})\((.*?)\)\1"', re.S)


def raw_strings(path):
    return [m.group(2) for m in RAW.finditer(path.read_text(encoding="utf-8"))]


def is_json(text):
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def cap_stream(events, sep):
    """Joins SSE events; above MAX keeps the head and the last two events (the finish)."""
    text = "".join(events)
    if len(text) <= MAX:
        return text
    tail = "".join(events[-2:])
    head = ""
    for e in events[:-2]:
        if len(head) + len(e) + len(tail) > MAX:
            break
        head += e
    return head + tail


def jsonl(path):
    return [l for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]


def openai_sse(lines):
    return cap_stream(["data: " + l + "\n\n" for l in lines] + ["data: [DONE]\n\n"], "\n")


def anthropic_sse(lines):
    return cap_stream(
        ["event: " + json.loads(l)["type"] + "\ndata: " + l + "\n\n" for l in lines], "\n")


def gemini_sse(lines):
    return cap_stream(["data: " + l + "\r\n\r\n" for l in lines], "\r\n")


def sse_events(text):
    sep = "\r\n\r\n" if "\r\n\r\n" in text else "\n\n"
    parts = [p for p in text.split(sep) if p.strip()]
    return [p + sep for p in parts]


def transcript(path):
    """(request body, response body text) pairs of an anthropic/http-*.json recording."""
    out = []
    for x in json.loads(path.read_text(encoding="utf-8")):
        nock = "scope" in x
        req = x["body"] if nock else x["request"]["body"]
        body = x["response"] if nock else x["response"]["body"]
        resp = body if isinstance(body, str) else json.dumps(body)
        out.append((req, resp))
    return out


class Seeds:
    def __init__(self, out):
        self.out = out
        self.count = {}

    def add(self, target, text):
        data = text.encode("utf-8") if isinstance(text, str) else text
        if not data or len(data) > MAX:
            if len(data) > MAX and data[:1] in (b"{", b"["):
                return  # a JSON body cut short is just a syntax error; skip it
            data = data[:MAX]
        d = self.out / target
        d.mkdir(parents=True, exist_ok=True)
        (d / hashlib.sha1(data).hexdigest()).write_bytes(data)
        self.count[target] = self.count.get(target, 0) + 1

    def add_all(self, targets, text):
        for t in targets:
            self.add(t, text)


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build-fuzz" / "seeds")
    s = Seeds(out)
    openai_family = ["fuzz_provider_openai", "fuzz_provider_azure", "fuzz_provider_compat"]

    # Provider answers: unary bodies, streams in their wire form, error bodies.
    for p in sorted((FIX / "openai").iterdir()):
        if p.suffix in (".json", ".sse"):
            text = p.read_text(encoding="utf-8")
            if p.suffix == ".sse":
                text = cap_stream(sse_events(text), "\n")
            s.add_all(openai_family, text)
            s.add("fuzz_sse", text)
            if "chat" in p.name or "error" in p.name:
                s.add("fuzz_anthropic_face", text)  # completions, streams, error bodies
        elif p.name.endswith(".chunks.jsonl"):
            text = openai_sse(jsonl(p))
            s.add_all(openai_family + ["fuzz_sse", "fuzz_anthropic_face"], text)
    for p in sorted((FIX / "azure").iterdir()) + sorted((FIX / "compat").iterdir()):
        text = openai_sse(jsonl(p)) if p.name.endswith(".jsonl") else p.read_text(encoding="utf-8")
        s.add_all(openai_family + ["fuzz_sse", "fuzz_anthropic_face"], text)

    for p in sorted((FIX / "anthropic").iterdir()):
        if p.suffix == ".sse":
            text = p.read_text(encoding="utf-8")
            s.add_all(["fuzz_provider_anthropic", "fuzz_sse"], text)
        elif p.name.endswith(".chunks.jsonl"):
            s.add_all(["fuzz_provider_anthropic", "fuzz_sse"], anthropic_sse(jsonl(p)))
        elif p.name.startswith("http-"):
            for req, resp in transcript(p):
                s.add("fuzz_provider_anthropic", resp)
                s.add("fuzz_anthropic_face", json.dumps(req))  # an Anthropic Messages request
        elif p.suffix == ".json":
            s.add("fuzz_provider_anthropic", p.read_text(encoding="utf-8"))

    for p in sorted((FIX / "gemini").iterdir()):
        if p.suffix == ".sse":
            text = p.read_text(encoding="utf-8")
            s.add_all(["fuzz_provider_gemini", "fuzz_sse"], text)
        elif p.name.endswith(".chunks.jsonl"):
            s.add_all(["fuzz_provider_gemini", "fuzz_sse"], gemini_sse(jsonl(p)))
        elif p.suffix == ".json":
            s.add("fuzz_provider_gemini", p.read_text(encoding="utf-8"))

    # The unit tests' JSON raw strings: request bodies (and answers) the tests found worth
    # writing down.
    unit = ROOT / "tests" / "unit"
    for p in sorted(unit.glob("*/*.cpp")):
        for text in raw_strings(p):
            if not is_json(text):
                continue
            if p.parent.name == "server" and "anthropic" in p.name:
                s.add("fuzz_anthropic_face", text)
            elif p.parent.name == "providers":
                provider = p.name.split("_")[0]
                s.add("fuzz_json", text)
                s.add("fuzz_provider_" + provider, text)
                if provider == "openai":
                    s.add_all(["fuzz_provider_compat", "fuzz_provider_azure"], text)
            else:
                s.add("fuzz_json", text)
            if "data:" in text:
                s.add("fuzz_sse", text)

    # Requests for every operation, shaped like what the SDKs send.
    requests = [
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        {"model": "m", "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [{"type": "text", "text": "hi"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "r"}],
         "tools": [{"type": "function", "function": {"name": "f", "description": "d",
                                                      "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}}],
         "tool_choice": "auto", "stream": True, "stream_options": {"include_usage": True},
         "temperature": 0.2, "top_p": 0.9, "max_tokens": 5, "n": 1, "stop": ["\n"],
         "response_format": {"type": "json_object"}, "seed": 7, "user": "u"},
        {"model": "m", "messages": [{"role": "developer", "content": "d"}, {"role": "user", "content": "x"}],
         "max_completion_tokens": 9, "logprobs": True, "top_logprobs": 2, "presence_penalty": 0.5,
         "frequency_penalty": 0.5, "logit_bias": {"50256": -100}, "parallel_tool_calls": False,
         "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}},
         "reasoning_effort": "low"},
        {"model": "m", "prompt": "once upon", "max_tokens": 3, "echo": False, "suffix": "x", "best_of": 1},
        {"model": "m", "prompt": ["a", "b"], "stream": True},
        {"model": "m", "input": "text"},
        {"model": "m", "input": ["a", "b"], "encoding_format": "base64", "dimensions": 8},
        {"model": "m", "input": [[1, 2, 3]], "encoding_format": "float"},
    ]
    for r in requests:
        s.add("fuzz_json", json.dumps(r))
    s.add("fuzz_json", '{"a":1,"a":2}')
    s.add("fuzz_json", "[" * 130 + "]" * 130)
    s.add("fuzz_json", '{"model":"m\\u0000","messages":[{"role":"user","content":"\\ud83d\\ude00"}]}')

    anthropic_requests = [
        {"model": "claude", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
        {"model": "claude", "max_tokens": 16, "system": [{"type": "text", "text": "s"}], "stream": True,
         "temperature": 0.5, "top_p": 0.9, "stop_sequences": ["END"], "metadata": {"user_id": "u"},
         "tools": [{"name": "get", "description": "d", "input_schema": {"type": "object"}}],
         "tool_choice": {"type": "tool", "name": "get"},
         "thinking": {"type": "disabled"},
         "messages": [
             {"role": "user", "content": [{"type": "text", "text": "q"},
                                          {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]},
             {"role": "assistant", "content": [{"type": "text", "text": "t"},
                                               {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {"a": 1}}]},
             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "r", "is_error": False}]}]},
    ]
    for r in anthropic_requests:
        s.add("fuzz_anthropic_face", json.dumps(r))

    # SSE framing edge cases.
    for text in ["data: a\n\n", "data: a\r\n\r\n", "data: a\r\rdata: b\r\r", ": ping\n\ndata:x\n\n",
                 "event: e\nid: 1\nretry: 10\ndata: a\ndata: b\n\n", "data\n\n", "data: [DONE]\n\n",
                 "data: {\"x\":1}\n", "event: message_stop\ndata: {}\n\n"]:
        s.add("fuzz_sse", text)

    # Configs: the shipped ones and the loader tests' documents.
    for p in sorted((ROOT / "config").glob("*.yaml")):
        s.add("fuzz_config", p.read_text(encoding="utf-8"))
    for text in raw_strings(unit / "config" / "loader_test.cpp"):
        if ":" in text:
            s.add("fuzz_config", text)

    for t, n in sorted(s.count.items()):
        print(f"{t}: {n} seeds -> {out / t}")


if __name__ == "__main__":
    main()
