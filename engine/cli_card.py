"""`python -m engine card RUN [--print]`: (re)write the Hugging Face model card
(model/README.md) of a trained run, given its run id in the workspace or its folder."""
from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("card", help="(re)write the model card model/README.md of a trained run",
                       description="Write the Hugging Face model card of a trained run into its "
                                   "model/ folder (front matter with the dev and test scores, "
                                   "per-type tables, training configuration, data files with "
                                   "sha256, limitations, how to load it).")
    p.add_argument("run", help="run id of this workspace, or a run folder")
    p.add_argument("--print", dest="print_card", action="store_true",
                   help="also print the card to stdout (the path goes to stderr)")
    p.set_defaults(handler=main)


def main(args) -> int:
    from engine.data import workspace_root
    from engine.modelcard import write_card
    from engine.significance import resolve_run
    from engine.store import Store

    run_dir = resolve_run(args.run, workspace_root() / Store.RUNS)
    path = write_card(run_dir)
    if args.print_card:
        sys.stdout.write(path.read_text(encoding="utf-8"))
        print(f"wrote {path}", file=sys.stderr)
    else:
        print(f"wrote {path}")
    return 0
