"""``tapedeck gradcam RUN --index N``: the Grad-CAM heat maps of one test image of a finished run.

Prints which layer was used and, per side (the predicted class and the true class), the class, its
probability and where the heat map peaks; ``--out PICTURE.png`` writes the image and the two overlays
side by side (Pillow). Mistakes (no such run, image or layer, a model without convolutions) are one line
and exit 2, as for every command.
"""
from __future__ import annotations

import io

import numpy as np

from tapedeck.engine.cli.errors import fail

__all__ = ["add_gradcam_arguments", "gradcam_command"]


def add_gradcam_arguments(parser) -> None:
    parser.add_argument("run", help="a run folder (or its name inside --runs-dir)")
    parser.add_argument("--index", type=int, default=0, help="the test image (default 0)")
    parser.add_argument("--layer", help="the layer to weigh (default: the last convolution)")
    parser.add_argument("--class", dest="class_index", type=int,
                        help="a class index in place of the predicted class")
    parser.add_argument("--out", help="write the image and both heat maps side by side to this PNG")
    parser.add_argument("--runs-dir", default="runs", help="where run names are looked up (default: runs)")


def gradcam_command(args) -> int:
    from tapedeck.engine.analysis.gradcam import overlay, run_gradcam
    from tapedeck.engine.cli.runs import resolve_run

    run_dir = resolve_run(args.run, args.runs_dir)
    if run_dir is None:
        return fail(f"{args.run}: no such run folder (give a path, or a name inside {args.runs_dir})")
    result = run_gradcam(run_dir, args.index, layer=args.layer, class_index=args.class_index)
    names = result["class_names"]
    print(f"test image #{args.index} of {run_dir.name}; Grad-CAM at layer {result['predicted'].layer}")
    for label, cam in (("predicted" if args.class_index is None else "chosen", result["predicted"]),
                       ("true", result["true"])):
        row, col = np.unravel_index(int(np.argmax(cam.heatmap)), cam.heatmap.shape)
        print(f"  {label:9} {names[cam.class_index]} ({cam.probability:.1%}): peak at row {row}, column {col}")
    if args.out:
        _write_picture(args.out, result["image"], [overlay(result["image"], c.heatmap)
                                                   for c in (result["predicted"], result["true"])])
        print(f"wrote {args.out}")
    return 0


def _write_picture(path, image, overlays) -> None:
    from tapedeck.engine.analysis.gradcam import overlay
    from tapedeck.engine.files import write_bytes_atomic

    try:
        from PIL import Image
    except ImportError:
        raise SystemExit(fail("--out needs Pillow, which is not installed: run `pip install pillow`")) from None
    plain = overlay(image, np.zeros(np.shape(image)[:2], np.float32), alpha=0.0)
    strip = np.concatenate([plain, *overlays], axis=1)
    scale = max(1, 192 // strip.shape[0])
    picture = Image.fromarray(strip).resize((strip.shape[1] * scale, strip.shape[0] * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    write_bytes_atomic(path, buffer.getvalue())
