"""
``sunpy-enhance evaluate``: measure an Enhance model on held-out frames and real HMI samples.
"""
from pathlib import Path

from sunpy_enhance.cli import CommandError, add_output_dir_option

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
    parser.add_argument("--update-card", action="store_true",
                        help="write the summary metrics into the model's card.json")
    parser.set_defaults(func=run)


def run(args):
    from sunpy_enhance.enhance.training.evaluation import evaluate_model, targets_table, write_card_metrics
    from sunpy_enhance.models import model_directory

    if not args.data.is_dir():
        raise CommandError(f"data folder {args.data} does not exist")
    metrics = evaluate_model(args.kind, args.data, args.output_dir, model=args.model)
    for what, value, target, met in targets_table(args.kind, metrics["summary"]):
        print(f"{what:55s} {value:10.4g}  target {target:12s} {met}")
    print(f"report: {args.output_dir / 'report.md'}")
    if args.update_card:
        print(f"updated {write_card_metrics(model_directory(args.model or f'enhance-{args.kind}'), metrics)}")
    return 0
