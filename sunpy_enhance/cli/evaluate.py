"""
``sunpy-enhance evaluate``: measure an Enhance model on held-out frames and real HMI samples.
"""
from pathlib import Path

from sunpy_enhance.cli.options import CommandError, add_output_dir_option

#: The sunpy_enhance package folder.
_PACKAGE = Path(__file__).resolve().parents[1]

__all__ = ["register", "run"]


def register(subparsers):
    parser = subparsers.add_parser(
        "evaluate", help="evaluate an Enhance model and write a Markdown report with figures",
        description="PSNR/SSIM against bicubic and Richardson-Lucy on held-out validation frames; forward "
                    "residual, contrast, photometry and flux budget on real HMI samples; comparison with the "
                    "published Enhance outputs.")
    parser.add_argument("--kind", choices=("continuum", "magnetogram"), required=True)
    parser.add_argument("--data", required=True, type=Path, metavar="SHARED_DATA_DIR",
                        help="the shared data folder with the corpus and the HMI samples")
    parser.add_argument("--model", help="bundled model name or model directory (default: the bundled one)")
    add_output_dir_option(parser, "folder for the report (report.md) and its figures")
    card = parser.add_argument_group("model card")
    card.add_argument("--update-card", action="store_true",
                      help="write the summary metrics into the model's card.json (a model directory of yours; "
                           "a bundled model's card only from a source tree, i.e. an editable install in a git "
                           "checkout: else use --card-output)")
    card.add_argument("--card-output", type=Path, metavar="PATH",
                      help="write the model's card with the metrics to PATH instead (the model is left as it is)")
    card.add_argument("--overwrite", action="store_true", help="replace an existing --card-output file")
    parser.set_defaults(func=run)


def source_tree():
    """
    The source tree this package runs from (the folder holding ``.git`` and ``pyproject.toml`` above the
    package: an editable install in a git checkout), or None for an installed package.
    """
    root = _PACKAGE.parent
    if (root / ".git").exists() and (root / "pyproject.toml").is_file():
        return root
    return None


def _card_target(args, model_dir):
    """Where the card with the metrics goes (None: nowhere), refused before the evaluation starts."""
    if args.card_output is not None:
        if args.card_output.exists() and not args.overwrite:
            raise CommandError(f"{args.card_output} exists; pass --overwrite to replace it")
        return args.card_output
    if not args.update_card:
        return None
    package = _PACKAGE
    card = model_dir.resolve() / "card.json"
    if package in card.parents and source_tree() is None:
        raise CommandError(f"--update-card would write into the installed package ({card}), which changes the "
                           "bundled model's card for every user of this installation; that is done only from a "
                           "source tree (an editable install in a git checkout). Give --card-output PATH to write "
                           "the updated card elsewhere.")
    return card


def run(args):
    from sunpy_enhance.enhance.training.evaluation import evaluate_model, targets_table, write_card_metrics
    from sunpy_enhance.models import model_directory

    if not args.data.is_dir():
        raise CommandError(f"data folder {args.data} does not exist")
    model_dir = model_directory(args.model or f"enhance-{args.kind}")
    card = _card_target(args, model_dir)  # refused now rather than after the evaluation
    metrics = evaluate_model(args.kind, args.data, args.output_dir, model=args.model)
    for what, value, target, met in targets_table(args.kind, metrics["summary"]):
        print(f"{what:55s} {value:10.4g}  target {target:12s} {met}")
    print(f"report: {args.output_dir / 'report.md'}")
    if card is not None:
        print(f"updated {write_card_metrics(model_dir, metrics, output=card)}")
    return 0
