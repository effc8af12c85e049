"""Validates STAC Items (an Item, an ItemCollection, or one per line, on
stdin) against the STAC Item JSON schema v1.0.0 with Debian's
python3-jsonschema, resolving every $ref offline from the schema folder
given (each file by its $id). Prints one line per invalid item; exits 1 if
any item is invalid or none was read."""
import json
import os
import sys

from jsonschema import Draft7Validator, RefResolver

ITEM = "https://schemas.stacspec.org/v1.0.0/item-spec/json-schema/item.json"

store = {}
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        if name.endswith(".json"):
            with open(os.path.join(root, name)) as f:
                schema = json.load(f)
            if "$id" in schema:
                store[schema["$id"]] = schema
                store[schema["$id"].rstrip("#")] = schema
schema = store[ITEM]
validator = Draft7Validator(schema, resolver=RefResolver.from_schema(schema, store=store))

items, invalid = 0, 0
decoder = json.JSONDecoder()
text = sys.stdin.read()
pos = 0
while True:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        break
    doc, pos = decoder.raw_decode(text, pos)
    for item in doc["features"] if doc.get("type") == "FeatureCollection" else [doc]:
        items += 1
        errors = sorted(validator.iter_errors(item), key=lambda e: list(e.path))
        if errors:
            invalid += 1
            print(item.get("id"), "; ".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]))
print(f"{items} items, {invalid} invalid", file=sys.stderr)
sys.exit(1 if invalid or items == 0 else 0)
