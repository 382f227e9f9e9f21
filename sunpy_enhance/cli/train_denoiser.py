"""
``sunpy-enhance train-denoiser``: train a denoiser without clean targets, resumably.

Examples::

    # Noise2Noise from pairs of consecutive frames (real, independent noise):
    sunpy-enhance train-denoiser runs/mine --pairs frame1.fits frame2.fits --pairs f3.fits f4.fits \\
        --export models/mine --name mine --unit G

    # One noisy cube, nothing else (blind-spot):
    sunpy-enhance train-denoiser runs/cube --images stokes_v.npy --export models/cube --name cube --unit Ic

    # Clean-ish scenes plus synthetic white noise of 10 G (two realisations per draw):
    sunpy-enhance train-denoiser runs/hmi --scenes sharp/*.magnetogram.fits --noise 10 --unit G \\
        --steps 3000 --time-limit 25 --export models/hmi --name hmi

Run the same command again (with a larger ``--steps`` if you like) to continue from the last
checkpoint in RUN_DIR.
"""
import shlex
import sys

from sunpy_enhance.cli.options import CommandError, add_progress_option, show_progress

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser(
        "train-denoiser",
        help="train a self-supervised denoiser (Noise2Noise or blind-spot); resumable",
        description="Train the denoising U-Net without clean targets. Checkpoints and a log go to RUN_DIR; "
                    "running the command again resumes. Inputs: .npy, FITS or IDL save files holding "
                    "images or stacks of images.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="directory for checkpoints and the training log")
    data = p.add_argument_group("training data (at least one kind)")
    data.add_argument("--pairs", nargs=2, action="append", metavar=("FIRST", "SECOND"), default=[],
                      help="two noisy observations of the same scene (repeat for more pairs)")
    data.add_argument("--images", nargs="+", default=[], metavar="FILE",
                      help="noisy images for blind-spot training")
    data.add_argument("--scenes", nargs="+", action="append", default=[], metavar="FILE",
                      help="low-noise scenes to which synthetic white noise of --noise is added; repeat the "
                           "option for groups of scenes drawn with their own --weights")
    data.add_argument("--noise", type=float, default=None,
                      help="noise standard deviation in data units (required with --scenes; estimated "
                           "from the data otherwise)")
    data.add_argument("--supervised", action="store_true",
                      help="use --scenes as clean targets (for comparison only)")
    data.add_argument("--amplitude", nargs=2, type=float, default=(1.0, 1.0), metavar=("LO", "HI"),
                      help="multiply each scene patch by a factor drawn log-uniformly in [LO, HI]")
    data.add_argument("--weights", nargs="+", type=float, default=None,
                      help="probability of each source of data in the order pairs, images, scene groups")
    train = p.add_argument_group("training")
    train.add_argument("--steps", type=int, default=3000, help="total optimisation steps (default 3000)")
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--patch-size", type=int, default=64)
    train.add_argument("--learning-rate", type=float, default=5e-4)
    train.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                       help="stop with a checkpoint after this many minutes; run again to continue")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                       help="arithmetic of the hidden layers while training (bfloat16: mixed, ~2x faster on "
                            "CPUs with AMX; the exported model is float32)")
    train.add_argument("--no-resume", action="store_true", help="start afresh even if RUN_DIR has a checkpoint")
    add_progress_option(train)
    arch = p.add_argument_group("network")
    arch.add_argument("--channels", type=int, default=32)
    arch.add_argument("--depth", type=int, default=2)
    arch.add_argument("--no-bayesian", action="store_true", help="no uncertainty head, no dropout")
    arch.add_argument("--dropout", type=float, default=None)
    out = p.add_argument_group("export (when the run reaches --steps)")
    out.add_argument("--export", metavar="MODEL_DIR", default=None,
                     help="write the trained model with its card here (use with sunpy-enhance denoise --model)")
    out.add_argument("--name", default=None, help="model name for the card")
    out.add_argument("--description", default="", help="what the model is for")
    out.add_argument("--unit", default="", help="unit of the data, e.g. Ic or G")
    out.add_argument("--data-note", default=None, help="what data the model saw (for the card)")
    out.add_argument("--held-out-note", default=None, help="what data were kept out of training")
    out.add_argument("--overwrite", action="store_true", help="replace an existing MODEL_DIR")
    p.set_defaults(func=run)


def run(args):
    import numpy as np

    from sunpy_enhance.denoise.training import (
        PairSource,
        SceneSource,
        SingleImageSource,
        export_denoiser,
        read_images,
        train_denoiser,
    )

    sources, validation = [], None
    for first, second in args.pairs:
        sources.append(PairSource(read_images(first), read_images(second), args.noise,
                                  name=f"{first} + {second}"))
    if args.images:
        sources.append(SingleImageSource([read_images(f) for f in args.images], args.noise,
                                         name=", ".join(args.images)))
    if args.scenes and args.noise is None:
        msg = "--scenes needs --noise: the standard deviation of the synthetic noise to add, in data units."
        raise CommandError(msg)
    for group in args.scenes:
        scene = SceneSource([read_images(f) for f in group], args.noise,
                            mode="supervised" if args.supervised else "noise2noise",
                            amplitude=args.amplitude, name=", ".join(group))
        sources.append(scene)
        # training is monitored on 32 patches shared among the scene groups
        part = scene.validation(max(1, 32 // len(args.scenes)), args.patch_size)
        validation = part if validation is None else tuple(np.concatenate(v) for v in zip(validation, part))
    if not sources:
        msg = "no training data: give --pairs, --images and/or --scenes."
        raise CommandError(msg)
    if args.weights is not None and len(args.weights) != len(sources):
        msg = f"--weights needs {len(sources)} numbers, one per source of data given."
        raise CommandError(msg)
    architecture = {"channels": args.channels, "depth": args.depth, "bayesian": not args.no_bayesian,
                    "dropout": args.dropout}
    model, state = train_denoiser(
        sources, args.run_dir, steps=args.steps, weights=args.weights, architecture=architecture,
        batch_size=args.batch_size, patch_size=args.patch_size, learning_rate=args.learning_rate,
        validation=validation, time_limit=None if args.time_limit is None else 60.0 * args.time_limit,
        seed=args.seed, precision=args.precision, resume=not args.no_resume, progress=show_progress(args))
    print(f"step {state['step']}/{args.steps}, {state['elapsed_s'] / 60:.1f} min of training; "
          f"last log: {state['last']}")
    if state["step"] < args.steps:
        print(f"Stopped by --time-limit; run the same command again to continue from {args.run_dir}.")
        return 0
    if args.export:
        noise = args.noise if args.noise is not None else sources[0].noise
        path = export_denoiser(
            model, args.export, name=args.name or args.export.rstrip("/").split("/")[-1],
            description=args.description, noise=noise, unit=args.unit, state=state,
            data=args.data_note or [s["name"] for s in state["config"]["sources"]],
            held_out=args.held_out_note or "not stated", metrics={"last_validation": state["last"]},
            command="sunpy-enhance " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else None,
            overwrite=args.overwrite)
        print(f"model written to {path}")
    return 0
