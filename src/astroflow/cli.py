"""Command line: inspect formats, surveys and stores without running the workflow."""
from __future__ import annotations

import argparse
import json
import sys

from astroflow.errors import AstroflowError, ConfigError
from astroflow.uncertainty import METHODS


def _formats(args) -> None:
    """Every reader (or the one named) with its whole description: what it reads and its options."""
    import inspect
    import textwrap

    from astroflow.sources import formats

    names = args.names or formats.names()
    for i, name in enumerate(names):
        doc = inspect.cleandoc(formats.get(name).__doc__ or "(no description)")
        print(("\n" if i else "") + name)
        print(textwrap.indent(doc, "    "))


def _surveys(args) -> None:
    from astroflow.sources.registry import load_registry

    for name, survey in sorted(load_registry().items()):
        print(f"{name:16s} {survey.format:11s} {survey.description}")


def _read(args) -> None:
    """Read a file or folder as the workflow would, and say what was found: a check for your own catalogue."""
    from astroflow.ingest import read_units
    from astroflow.sources import formats

    options = reader_options(args.options)
    units = formats.discover(args.format, args.path, **options)
    cat = read_units(args.format, units[: args.limit or None], options)
    print(f"{len(units)} input units; read {min(len(units), args.limit or len(units))}")
    print(f"{cat.n_objects} objects, {cat.n_obs} observations, bands {cat.bands}, {cat.quantity} [{cat.unit}]")
    print(cat.obs.head(10).to_string(index=False))


def reader_options(text: str | None) -> dict:
    """The --options JSON object; anything else is a clear error."""
    try:
        options = json.loads(text) if text else {}
    except json.JSONDecodeError as err:
        raise ConfigError("--options", f"not valid JSON ({err.msg} at character {err.pos}): {text!r}") from None
    if not isinstance(options, dict):
        raise ConfigError("--options", f"a JSON object of reader options is needed, e.g. '{{\"band\": \"V\"}}', "
                          f"not {text!r}")
    return options


def _info(args) -> None:
    from astroflow.store import LightCurveStore

    store = LightCurveStore(args.store)
    sizes = store.objects["row_size"]
    print(f"{args.store}: {store.n_objects} objects, {int(sizes.sum())} observations "
          f"(median {int(sizes.median())} per object), bands {store.bands}, {store.quantity}")
    counts = store.objects["label"].value_counts().sort_index()
    for code, n in counts.items():
        print(f"  {store.class_names[code] if code >= 0 else 'unlabelled':12s} {n}")
    print(json.dumps(store.attrs.get("provenance", {}), indent=2)[:2000])


def _predict(args) -> None:
    """Classify a catalogue with a fine-tuned model: class probabilities per object."""
    from astroflow.train.predict import predict_catalogue

    options = reader_options(args.options)
    uncertainty = {"uncertainty": args.uncertainty, "passes": args.passes, "members": args.member or []}
    if args.member and args.uncertainty != "ensemble":
        raise ConfigError("--member", "extra models join an ensemble only (--uncertainty ensemble)")
    table = predict_catalogue(args.model, args.format, args.path, args.out, options, **uncertainty)
    done = classified(table)
    print(f"{int(done.sum())} objects classified, {int((~done).sum())} not (see the note column); wrote {args.out}")
    if done.any():
        print(table.loc[done, "pred"].value_counts().to_string())
    if args.uncertainty and done.any():
        scored = [c for c in table.columns if c in ("max_p", "smp", "pv", "bald", "entropy")]
        print(f"{args.uncertainty} scores (median): " + ", ".join(f"{c} {table.loc[done, c].median():.3f}"
                                                                  for c in scored))


def classified(table):
    """Which rows of a predictions table have no note (the note column is left out when none has one)."""
    return table["note"] == "" if "note" in table else table["object_id"].notna()


def _stellar(args) -> None:
    """Masses and ages of the stars in a table, from a trained StelNet (results/stellar/<grid>)."""
    from astroflow.stellar.stars import InputErrors, estimate_file

    table = estimate_file(args.table, args.models, args.out, json.loads(args.columns) if args.columns else None,
                          draws=args.draws, seed=args.seed, defaults=InputErrors(args.teff_error, args.lum_error))
    flagged = table["note"] != ""
    print(f"{int((~flagged).sum())} stars estimated, {int(flagged.sum())} not (see the note column); wrote {args.out}")
    if flagged.any():
        print(table.loc[flagged, "note"].value_counts().to_string())


def _spectra_predict(args) -> None:
    """Classify spectrum files (SDSS, LAMOST, DESI) and estimate their redshifts with a trained spectrum model."""
    from astroflow.spectra.predict import predict_files

    table = predict_files(args.model, args.format, args.path, args.out)
    done = classified(table)
    print(f"{int(done.sum())} spectra classified, {int((~done).sum())} not (see the note column); wrote {args.out}")
    if done.any():
        print(table.loc[done, "class_pred"].value_counts().to_string())


def _pull(args) -> None:
    from astroflow.pull import pull

    extra = ["--configfile", *args.configfile] if args.configfile else []
    marked = pull(".", extra)
    print(f"pulled; {len(marked)} workflow outputs marked up to date for Snakemake (nothing was run)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="astroflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("formats", help="the survey file formats, each with its whole description and options")
    p.add_argument("names", nargs="*", help="only these formats")
    p.set_defaults(run=_formats)
    sub.add_parser("surveys", help="list the download registry").set_defaults(run=_surveys)
    from astroflow.sources import formats

    p = sub.add_parser("read", help="read a file or folder in a format and summarise it")
    p.add_argument("format", choices=formats.names(), help="a reader (astroflow formats lists them)")
    p.add_argument("path")
    p.add_argument("--options", help="reader options as JSON, e.g. '{\"band\": \"V\"}'")
    p.add_argument("--limit", type=int, default=0, help="read at most this many units")
    p.set_defaults(run=_read)
    p = sub.add_parser("info", help="summarise a light-curve store")
    p.add_argument("store")
    p.set_defaults(run=_info)
    p = sub.add_parser("predict", help="classify a catalogue in any format with a fine-tuned model")
    p.add_argument("model", help="a fine-tuned model file (results/<dataset>/finetune/.../model.pt, or the "
                   "forest's model.skops)")
    p.add_argument("format", nargs="?", choices=formats.names(), help="a reader (astroflow formats lists them); "
                   "default: the format the model's training data came in")
    p.add_argument("path")
    p.add_argument("--out", default="predictions.parquet", help="output table, written as its suffix says (.parquet "
                   "or .csv)")
    p.add_argument("--options", help="reader options as JSON, on top of those the model's training data were read "
                   "with (when the format is theirs)")
    p.add_argument("--uncertainty", choices=METHODS, help="add this method's uncertainty scores (SMP, PV, BALD, "
                   "entropy; 1 - max p for deterministic); hsa methods need a *-hsa model")
    p.add_argument("--passes", type=int, default=10, help="stochastic passes of the uncertainty method (T)")
    p.add_argument("--member", action="append", help="another model of the ensemble (repeat for each)")
    p.set_defaults(run=_predict)
    from astroflow.stellar.stars import InputErrors

    p = sub.add_parser("stellar", help="masses and ages (with 16-84%% intervals) of stars from Teff and L")
    p.add_argument("table", help="CSV or parquet with teff or log_teff, lum or log_lum (Lsun), optional *_err and feh")
    p.add_argument("--models", default="results/stellar/mist", help="a trained StelNet folder (results/stellar/<grid>)")
    p.add_argument("--out", default="stellar.csv", help="output table, written as its suffix says (.csv or .parquet)")
    p.add_argument("--columns", help="JSON mapping of the names above to your columns, e.g. '{\"teff\": \"T_eff\"}'")
    p.add_argument("--draws", type=int, default=50, help="input-error draws per star (each through every member)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--teff-error", type=float, default=InputErrors.teff_fraction, metavar="FRACTION",
                   help="sigma(Teff)/Teff of stars without a Teff error (default %(default)s; 0: none)")
    p.add_argument("--lum-error", type=float, default=InputErrors.log_lum, metavar="DEX",
                   help="sigma(log10 L) of stars without an L error (default %(default)s dex; 0: none)")
    p.set_defaults(run=_stellar)
    p = sub.add_parser("spectra-predict", help="class, subclass and redshift of spectrum files with a spectrum model")
    p.add_argument("model", help="a trained spectrum model (results/<dataset>/spectra/train/.../model.pt or .joblib)")
    p.add_argument("format", choices=["sdss", "lamost", "desi"])
    p.add_argument("path", help="a spectrum file or a folder of them")
    p.add_argument("--out", default="spectra_predictions.parquet", help="output table, written as its suffix says "
                   "(.parquet or .csv)")
    p.set_defaults(run=_spectra_predict)
    p = sub.add_parser("pull", help="dvc pull, then mark the pulled artifacts up to date for Snakemake")
    p.add_argument("--configfile", nargs="+", help="config files, as given to snakemake")
    p.set_defaults(run=_pull)
    args = parser.parse_args(argv)
    try:
        if getattr(args, "out", None):
            from astroflow.tables import table_format

            table_format(args.out)  # before any work: a suffix that names no table is an error, not a Parquet file
        args.run(args)
    except AstroflowError as err:
        print(f"astroflow: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
