"""``seal-ros models list|verify|fetch``: the checkpoints in models/manifest.yaml."""
from __future__ import annotations

from pathlib import Path

from seal_ros.cli import CliError


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list, verify or download the model checkpoints",
                              description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    for action, help_ in (("list", "what each checkpoint is and whether it is present"),
                          ("verify", "check size and sha256 of the present checkpoints"),
                          ("fetch", "download missing checkpoints (resumes; checks sha256)")):
        a = sub.add_parser(action, help=help_)
        a.add_argument("--dir", type=Path, default=None,
                       help="models directory (default: $SEAL_ROS_MODELS or ~/.cache/seal_ros/models)")
        a.add_argument("--name", action="append", default=[], metavar="N",
                       help="only this model (name or file name; repeatable)")
        a.add_argument("--manifest", type=Path, default=None, help="manifest file (default: models/manifest.yaml)")
        if action == "fetch":
            a.add_argument("--all", action="store_true",
                           help="also the optional files (default without --name: the required ones only)")
            a.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds")
        a.set_defaults(func=run)


def _entries(args):
    from seal_ros.models.manifest import ManifestError, default_models_dir, load_manifest, select

    try:
        return select(load_manifest(args.manifest), args.name), (args.dir or default_models_dir()).expanduser()
    except ManifestError as exc:
        raise CliError(str(exc)) from None


def _fmt_size(n) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"


def run(args) -> int:
    from seal_ros.models.verify import verify_entry

    entries, models_dir = _entries(args)
    if args.action == "list":
        print(f"models directory: {models_dir}")
        for e in entries:
            st = verify_entry(e, models_dir, check_sha=False)
            print(f"{e.name:18s} {e.file:26s} {_fmt_size(e.size):>9s}  {st.state:13s} {'required' if e.required else 'optional'}")
            print(f"{'':18s} feeds: {e.feeds}")
            print(f"{'':18s} url: {e.url}\n{'':18s} license: {e.license}; sha256: {e.sha256 or 'unknown'}")
        return 0
    if args.action == "verify":
        bad = 0
        for e in entries:
            st = verify_entry(e, models_dir)
            print(f"{e.name:18s} {st.state:13s} {st.path}{'  (' + st.detail + ')' if st.detail else ''}")
            bad += st.state in ("size_mismatch", "sha_mismatch") or (e.required and not st.usable)
        return 1 if bad else 0
    return _fetch(args, entries, models_dir)


def _fetch(args, entries, models_dir) -> int:
    from seal_ros.models.fetch import FetchError, fetch
    from seal_ros.models.verify import verify_entry

    if not args.name and not args.all:
        entries = [e for e in entries if e.required]
    failed = 0
    for e in entries:
        st = verify_entry(e, models_dir)
        if st.usable:
            print(f"{e.name}: present ({st.state})")
            continue
        if st.state in ("size_mismatch", "sha_mismatch"):
            print(f"{e.name}: {st.detail}; moving it aside to {st.path.name}.bad and downloading again")
            st.path.replace(st.path.with_name(st.path.name + ".bad"))
        print(f"{e.name}: fetching {e.url}")
        try:
            fetch(e.url, st.path, e.size, e.sha256, progress=_progress_bar(e.name), timeout_s=args.timeout)
        except FetchError as exc:
            print(f"{e.name}: FAILED: {exc}")
            failed += 1
            continue
        print(f"{e.name}: ok -> {st.path}")
    if failed:
        raise CliError(f"{failed} download(s) failed; run the same command again to resume")
    return 0


def _progress_bar(name):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    state = {}

    def cb(done, total):
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, initial=done, unit="B", unit_scale=True, desc=name, leave=False)
        bar.update(done - bar.n)
        if total is not None and done >= total:
            bar.close()

    return cb
