#!/usr/bin/env python3
"""Reads a Logstash pipeline file and prints, as JSON, the settings of its `kinesis` output
block and the `count` of its `generator` input, for runs without a real Logstash.

Usage: kinesis_block.py PIPELINE.conf
Prints {"kinesis": {...options...}, "generator_count": N or null}.

Understands what the example pipelines use: `name => value` with "strings", numbers,
true/false and [lists], `#` comments, and `${VAR:default}` environment references in strings.
"""

import json
import os
import re
import sys

TOKEN = re.compile(r'\s*(?:#[^\n]*|("(?:[^"\\]|\\.)*")|(=>)|([{}\[\],])|([A-Za-z0-9_.\-]+))')
REFERENCE = re.compile(r"\$\{(\w+)(?::([^}]*))?\}")


def tokens(text):
    position = 0
    while text[position:].strip():
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise SystemExit(f"kinesis_block: cannot read the pipeline at character {position}")
        position = match.end()
        quoted, arrow, punct, word = match.groups()
        if quoted is not None:
            yield ("str", substitute(json.loads(quoted)))
        elif arrow or punct:
            yield ("op", arrow or punct)
        elif word is not None:
            yield ("word", word)


def substitute(text):
    def value(match):
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is None:
            raise SystemExit(f"kinesis_block: ${{{name}}} is not set and has no default")
        return default

    return REFERENCE.sub(value, text)


def scalar(kind, text):
    if kind == "str":
        return text
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return float(text) if re.fullmatch(r"-?\d+\.\d+", text) else text


def parse_block(stream):
    """Parses `{ name => value ... }` after the opening brace; returns a dict."""
    settings = {}
    for kind, text in stream:
        if (kind, text) == ("op", "}"):
            return settings
        name = text
        arrow = next(stream)
        if arrow != ("op", "=>"):
            # A nested plugin block (e.g. a filter inside a conditional): skip it.
            skip(stream)
            continue
        kind, text = next(stream)
        if (kind, text) == ("op", "["):
            values = []
            for kind, text in stream:
                if (kind, text) == ("op", "]"):
                    break
                if (kind, text) != ("op", ","):
                    values.append(scalar(kind, text))
            settings[name] = values
        else:
            settings[name] = scalar(kind, text)
    raise SystemExit("kinesis_block: unbalanced braces")


def skip(stream):
    depth = 1
    for _, text in stream:
        depth += {"{": 1, "}": -1}.get(text, 0)
        if depth == 0:
            return


def main():
    stream = tokens(open(sys.argv[1]).read())
    found = {"kinesis": None, "generator_count": None}
    previous = None
    for kind, text in stream:
        if (kind, text) == ("op", "{") and previous in ("kinesis", "generator"):
            settings = parse_block(stream)
            if previous == "kinesis":
                found["kinesis"] = settings
            else:
                found["generator_count"] = settings.get("count")
        previous = text
    if found["kinesis"] is None:
        raise SystemExit(f"kinesis_block: no kinesis output in {sys.argv[1]}")
    print(json.dumps(found))


if __name__ == "__main__":
    main()
