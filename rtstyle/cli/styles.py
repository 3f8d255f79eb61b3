"""``rtstyle styles``: the installed styles, with credit and licence."""

from __future__ import annotations

import argparse

from .args import add_common


def register(sub) -> None:
    p = sub.add_parser("styles", help="list installed styles with credit and licence",
                       description=__doc__)
    add_common(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import styles

    found = styles.installed()
    if not found:
        where = ", ".join(str(p) for p in styles.search_path())
        print(f"no styles installed (searched {where}). Train one with 'rtstyle train', export "
              "it with 'rtstyle export', and put its model folder in one of those places or "
              "pass its path to --style.")
        return 0
    for s in found:
        st = s.meta.get("style", {})
        onnx = "" if s.onnx else "  (not exported: run 'rtstyle export')"
        label = s.meta.get("zoo", {}).get("label")
        print(f"{s.name:24} {s.meta.get('net', {}).get('name', '?'):5}  "
              f"{st.get('credit') or 'credit unknown'} — {st.get('license') or 'licence unknown'}"
              f"{onnx}\n{'':24} {s.folder}" + (f"\n{'':24} {label}" if label else ""))
    return 0
