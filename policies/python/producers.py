"""Appends a `producers` custom section to a component built by
componentize-py, naming the language and the tool, so `baton policy
inspect` can show them (componentize-py writes none of its own).

Usage: python producers.py COMPONENT COMPONENTIZE_PY_VERSION

The section follows the WebAssembly tool conventions: fields `language`
and `processed-by`, each a vector of (name, version) strings. A custom
section may follow any other section, so appending leaves the component
valid and every other byte as it was.
"""

import sys


def uleb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def name(text: str) -> bytes:
    data = text.encode()
    return uleb128(len(data)) + data


def producers(fields) -> bytes:
    body = name("producers") + uleb128(len(fields))
    for field, values in fields:
        body += name(field) + uleb128(len(values))
        for value_name, version in values:
            body += name(value_name) + name(version)
    return b"\x00" + uleb128(len(body)) + body


def main() -> None:
    path, version = sys.argv[1], sys.argv[2]
    section = producers([
        ("language", [("Python", "")]),
        ("processed-by", [("componentize-py", version)]),
    ])
    with open(path, "ab") as f:
        f.write(section)


if __name__ == "__main__":
    main()
