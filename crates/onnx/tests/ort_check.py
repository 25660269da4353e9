"""Runs an exported nabla model under ONNX Runtime for the Rust tests in this directory.

usage: ort_check.py MODEL INPUT ROWS,COLS OUTPUT [--batch-statistics]

INPUT holds ROWS*COLS little-endian float32 values (row-major); the model's outputs for
them are written to OUTPUT in the same format. A JSON line on standard output reports the
output's name and shape, the runtime's version and whether the ONNX checker ran. The model
is also run on the first row alone (the batch dimension is dynamic), which must give the
same output unless --batch-statistics says the model normalizes with its batch's statistics.

Exit status 77 means onnxruntime or numpy cannot be imported (the test is skipped).
"""

import json
import sys


def main(argv):
    flags = [a for a in argv[1:] if a.startswith("--")]
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 4 or any(f != "--batch-statistics" for f in flags):
        print(__doc__, file=sys.stderr)
        return 2
    model_path, input_path, shape_arg, output_path = args
    batch_independent = "--batch-statistics" not in flags
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as e:
        print(f"ort_check: {e}", file=sys.stderr)
        return 77

    checker = "absent"
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        # full_check runs shape inference too: a node with inconsistent types fails here.
        onnx.checker.check_model(onnx.load(model_path), full_check=True)
        checker = "passed"

    shape = tuple(int(s) for s in shape_arg.split(","))
    x = np.fromfile(input_path, dtype="<f4").reshape(shape)
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    outputs = session.get_outputs()
    if [i.name for i in inputs] != ["input"] or len(outputs) != 1:
        print(f"ort_check: unexpected signature {[i.name for i in inputs]} -> {[o.name for o in outputs]}",
              file=sys.stderr)
        return 1
    if inputs[0].shape[0] != "batch":
        print(f"ort_check: the batch dimension is {inputs[0].shape[0]!r}, not 'batch'", file=sys.stderr)
        return 1
    (y,) = session.run(None, {"input": x})
    (one,) = session.run(None, {"input": x[:1]})
    if one.shape != (1,) + y.shape[1:]:
        print(f"ort_check: a batch of one gives shape {one.shape}", file=sys.stderr)
        return 1
    if batch_independent and not np.allclose(one[0], y[0], rtol=1e-5, atol=1e-5):
        print("ort_check: a batch of one gives another output than the full batch", file=sys.stderr)
        return 1
    np.ascontiguousarray(y, dtype="<f4").tofile(output_path)
    print(json.dumps({
        "output": outputs[0].name,
        "shape": list(y.shape),
        "onnxruntime": ort.__version__,
        "checker": checker,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
