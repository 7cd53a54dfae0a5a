"""Checks ONNX files with the reference checker, as the export tests require.

    python3 onnx_check.py MODEL.onnx [...]

Runs onnx.checker.check_model(model, full_check=True) (full_check adds strict shape inference)
on each file and prints one line per file: its opset, IR version and metadata. Exit 1 on the
first failure. Uses Debian's python3-onnx.
"""
import sys

import onnx


def main(paths):
    for path in paths:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
        meta = {p.key: p.value for p in model.metadata_props}
        print(f"{path}: ok opset={opsets} ir={model.ir_version} meta={meta}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Exception as e:  # the checker's own exception types vary between releases
        print(f"onnx_check.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
