"""``rtstyle info``: what this installation can do: versions, the ONNX Runtime providers that
really start a session here, the installed styles and WCT decoders, and where models are found."""

from __future__ import annotations

import argparse

from .args import add_common, add_json_flag


def register(sub) -> None:
    p = sub.add_parser("info", help="versions, working backends, installed styles and decoders",
                       description=__doc__)
    add_common(p)
    add_json_flag(p, "one JSON record")
    p.set_defaults(run=run)


def working_providers() -> dict[str, str]:
    """{provider: 'ok' or why not}: each listed provider asked to run a one-node graph alone."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    data = model.SerializeToString()
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    out = {}
    for provider in ort.get_available_providers():
        try:
            session = ort.InferenceSession(data, opts, providers=[provider])
            ran = session.get_providers()[0]
            out[provider] = "ok" if ran == provider else f"falls back to {ran}"
        except Exception as e:  # a provider whose libraries are missing fails here
            out[provider] = f"fails: {str(e).splitlines()[0][:120]}"
    return out


def wct_levels() -> dict[int, str]:
    """{level: folder} of the real-time WCT graphs found."""
    from .. import wct_realtime
    from ..errors import RtstyleError

    found = {}
    for level in range(1, 6):
        try:
            found[level] = str(wct_realtime.find(level))
        except RtstyleError:
            continue
    return found


def any_painting_net() -> str | None:
    """The folder of the installed any-painting net (rtstyle train-any), if there is one."""
    from .. import arbitrary
    from ..errors import RtstyleError

    try:
        return str(arbitrary.find())
    except RtstyleError:
        return None


def gather() -> dict:
    import importlib.metadata
    import platform

    import onnxruntime as ort

    from .. import __version__, styles, sysinfo

    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "rtstyle": __version__, "python": platform.python_version(),
        "machine": sysinfo.machine(), "onnxruntime": ort.__version__,
        "torch": version("torch"), "providers": working_providers(),
        "styles": [s.name for s in styles.installed()],
        "wct_realtime_levels": wct_levels(),
        "any_painting_net": any_painting_net(),
        "model_search_path": [str(p) for p in styles.search_path()],
    }


def run(args: argparse.Namespace) -> int:
    import json

    info = gather()
    if args.json:
        print(json.dumps(info))
        return 0
    providers = ", ".join(f"{k.replace('ExecutionProvider', '')} {v}"
                          for k, v in info["providers"].items())
    levels = info["wct_realtime_levels"]
    print(f"rtstyle {info['rtstyle']} on Python {info['python']}, {info['machine']}\n"
          f"onnxruntime {info['onnxruntime']}: {providers}\n"
          f"torch: {info['torch'] or 'not installed (training needs: pip install rtstyle[train])'}"
          f"\nstyles ({len(info['styles'])}): {', '.join(info['styles']) or 'none'}\n"
          f"any painting: net {info['any_painting_net'] or 'none installed'}; real-time WCT "
          f"levels {', '.join(map(str, levels)) or 'none exported'}\n"
          "models are looked up in:\n  " + "\n  ".join(info["model_search_path"]))
    return 0
