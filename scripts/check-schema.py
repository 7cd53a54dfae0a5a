#!/usr/bin/env python3
"""Checks configs/trainer.schema.json against the configs it must judge.

Every configs/*.json and tests/configs/valid/*.json must validate; every
tests/configs/invalid/*.json must be refused. tests/schema_test.cpp holds the C++ loader to the
same files, so a disagreement between the schema and the loader fails one side or the other.
Exits 1 on any disagreement, 0 otherwise.
"""
import json
import pathlib
import sys

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "configs" / "trainer.schema.json"


def main() -> int:
    schema = json.loads(SCHEMA.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    must_pass = [p for p in sorted((ROOT / "configs").glob("*.json")) if p != SCHEMA]
    must_pass += sorted((ROOT / "tests" / "configs" / "valid").glob("*.json"))
    must_fail = sorted((ROOT / "tests" / "configs" / "invalid").glob("*.json"))
    if not must_pass or not must_fail:
        print("check-schema: no configs found under configs/ or tests/configs/", file=sys.stderr)
        return 1

    problems = 0
    for path in must_pass + must_fail:
        name = path.relative_to(ROOT)
        try:
            config = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            config = None
            errors = [f"malformed JSON: {e}"]
        else:
            errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(config)]
        expected_valid = path in must_pass
        if expected_valid and errors:
            problems += 1
            print(f"FAIL {name}: should be valid, schema says: {errors[0]}")
        elif not expected_valid and not errors:
            problems += 1
            print(f"FAIL {name}: should be refused, schema accepts it")
        else:
            print(f"ok   {name}" + (f"  (refused: {errors[0]})" if errors else ""))
    print(f"check-schema: {len(must_pass) + len(must_fail)} configs, {problems} disagreements")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
