"""``rtstyle styles``: the installed styles, with credit and licence."""

from __future__ import annotations

import argparse

from .args import add_common, add_json_flag


def register(sub) -> None:
    p = sub.add_parser("styles", help="list installed styles with credit and licence",
                       description=__doc__)
    add_common(p)
    add_json_flag(p, "one JSON record per style, a line each")
    p.set_defaults(run=run)


def label(s) -> str | None:
    """How the net was trained: the zoo's label, or the same words from its training facts
    (a net trained outside the zoo)."""
    from ..zoo import label as zoo_label

    training = s.meta.get("training", {})
    said = s.meta.get("zoo", {}).get("label")
    if said or not training.get("steps"):
        return said
    return zoo_label(training, s.meta.get("net", {}).get("name"))


def record(s) -> dict:
    """What ``--json`` prints for one installed style."""
    st = s.meta.get("style", {})
    training = s.meta.get("training", {})
    return {"name": s.name, "net": s.meta.get("net", {}).get("name"),
            "credit": st.get("credit") or None, "license": st.get("license") or None,
            "folder": str(s.folder), "exported": s.onnx is not None,
            "steps": training.get("steps"), "device": training.get("device"),
            "label": label(s),
            **({"styles": [{k: m.get(k) for k in ("name", "credit", "license")}
                           for m in s.meta["styles"]]} if s.members else {})}


def run(args: argparse.Namespace) -> int:
    import json

    from .. import styles

    found = styles.installed()
    if args.json:
        for s in found:
            print(json.dumps(record(s)))
        return 0
    if not found:
        where = ", ".join(str(p) for p in styles.search_path())
        print(f"no styles installed (searched {where}). Train one with 'rtstyle train', export "
              "it with 'rtstyle export', and put its model folder in one of those places or "
              "pass its path to --style.")
        return 0
    width = max(len(s.name) for s in found)
    for s in found:
        st = s.meta.get("style", {})
        onnx = "" if s.onnx else "  (not exported: run 'rtstyle export')"
        if s.members:
            print(f"{s.name:{width}}  {s.meta.get('net', {}).get('name', '?'):5}  one net for "
                  f"{len(s.members)} styles (--style NAME or NAME:0.7,OTHER:0.3){onnx}\n"
                  f"{'':{width}}  {s.folder}")
            for m in s.meta["styles"]:
                print(f"{'':{width}}    {m['name']}: {m.get('credit') or 'credit unknown'} — "
                      f"{m.get('license') or 'licence unknown'}")
            continue
        said = label(s)
        print(f"{s.name:{width}}  {s.meta.get('net', {}).get('name', '?'):5}  "
              f"{st.get('credit') or 'credit unknown'} — {st.get('license') or 'licence unknown'}"
              f"{onnx}\n{'':{width}}  {s.folder}" + (f"\n{'':{width}}  {said}" if said else ""))
    return 0
