"""
``sunpy-enhance train``: train (or resume training) an Enhance model and export it.
"""
import dataclasses
from pathlib import Path

from sunpy_enhance.cli.options import CommandError

__all__ = ["register", "run"]


def register(subparsers):
    parser = subparsers.add_parser(
        "train", help="train or resume an Enhance model and export it as SavedModel + model card",
        description=("Train the Enhance network on high-resolution frames degraded with the HMI PSF "
                     "(Díaz Baso & Asensio Ramos 2018), optionally with forward consistency on real HMI "
                     "images. Re-running with the same RUN_DIR and settings resumes from the last checkpoint."))
    parser.add_argument("--kind", choices=("continuum", "magnetogram"), required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", metavar="SHARED_DATA_DIR",
                        help="build the bundled models' corpus from this shared data folder")
    source.add_argument("--frame", action="append", metavar="PATH:SCALE[:wrap]",
                        help="a high-resolution frame (FITS, npy, HDF5) and its pixel scale in arcsec; repeat")
    parser.add_argument("--real-hmi", action="append", default=[], metavar="PATH",
                        help="real HMI image (I/Ic or G) for the forward-consistency loss; repeat")
    parser.add_argument("--run-dir", required=True, type=Path, help="checkpoints and CSV log")
    parser.add_argument("--export", type=Path, help="directory to export the best model to")
    parser.add_argument("--name", help="model name for the card")
    parser.add_argument("--init-weights", type=Path, help="start from these weights (e.g. a bundled model)")
    parser.add_argument("--quiet", action="store_true", help="one line per epoch instead of a progress bar")
    parser.add_argument("--export-only", action="store_true",
                        help="do not train; export the best checkpoint of RUN_DIR as it is now")
    from sunpy_enhance.enhance.training.config import TrainingConfig

    for field in dataclasses.fields(TrainingConfig):
        if field.name == "kind":
            continue
        kind = _yes_no if field.name == "recorrupt" else float if field.default is None else type(field.default)
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind, default=None,
                            help=f"default: {field.default}")
    parser.set_defaults(func=run)


def _yes_no(text):
    if text.lower() in ("yes", "true", "1"):
        return True
    if text.lower() in ("no", "false", "0"):
        return False
    raise ValueError(text)


def run(args):
    from sunpy_enhance.enhance.training.config import TrainingConfig
    from sunpy_enhance.enhance.training.corpus import Corpus, frames_from_paths, shared_corpus
    from sunpy_enhance.enhance.training.train import train_enhance
    from sunpy_enhance.io import read_array

    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainingConfig)
                 if f.name != "kind" and getattr(args, f.name, None) is not None}
    config = TrainingConfig(kind=args.kind, **overrides)
    if args.corpus:
        if not Path(args.corpus).is_dir():
            raise CommandError(f"corpus folder {args.corpus} does not exist")
        corpus = shared_corpus(args.corpus, args.kind)
    else:
        frames = frames_from_paths(args.frame, args.kind)
        train, validation = zip(*(f.split(0.3) for f in frames))
        scale = 1.0 if args.kind == "continuum" else 1000.0
        real = [read_array(p, allow_nan=True) / scale for p in args.real_hmi]
        corpus = Corpus(list(train), list(validation), real, list(args.real_hmi),
                        [f"{f.name} ({f.pixel_scale}/px): {f.notes}" for f in frames])
    card = train_enhance(corpus, args.run_dir, config, export_to=args.export, model_name=args.name,
                         init_weights=args.init_weights, verbose=2 if args.quiet else 1,
                         export_only=args.export_only)
    t = card["training"]
    print(f"trained {t['epochs_completed']} epochs ({t['patches_seen']} patches, {t['wall_time_seconds']} s); "
          f"best validation MSE {t['best_validation_mse']:.3e} at epoch {t['best_epoch'] + 1}"
          + (f"; exported to {args.export}" if args.export else ""))
    return 0
