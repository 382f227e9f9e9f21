"""
Sphinx extension of the sunpy-enhance documentation.

Directives
----------
``.. model-card:: NAME``
    Renders the card (``card.json``) of a bundled model at build time: what it was trained on, with
    which PSF and normalisation, for how long, on what hardware. Replacing a bundled model updates its
    page at the next build.
``.. bundled-models::``
    A table of all bundled models with a one-line description and a link to their section.
``.. towncrier-draft::``
    The changelog entries not yet released (``changelog/*.rst`` fragments), rendered by towncrier.
``.. reference-toctree::``
    The API reference: one page per public module of the package. A module without a hand-written page
    in ``docs/reference/`` gets a generated one (``docs/generated/reference/``), so a new module is never
    left out of the reference.
``.. command-line-help::``
    The ``--help`` of the ``sunpy-enhance`` command and of each of its subcommands.

Events
------
``warn-missing-reference``
    With ``nitpicky = True`` a broken reference to one of this package's objects fails the build; a
    reference to another package (sunpy, astropy, numpy, …) that intersphinx could not resolve, e.g.
    when building offline, is rendered as code without a warning.
"""
import builtins
import json
import subprocess
import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

__all__ = ["setup"]


# ---------------------------------------------------------------------------------------------------
# model cards


def _models_dir():
    from sunpy_enhance.models import MODELS_DIR

    return Path(MODELS_DIR)


def _read_card(name):
    path = _models_dir() / name / "card.json"
    return json.loads(path.read_text()), path


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return str(value)


def _escape(text):
    """Make free text safe inside reStructuredText (no accidental markup)."""
    return str(text).replace("\\", "\\\\").replace("*", "\\*").replace("`", "\\`").replace("|", "\\|") \
        .replace("_ ", "\\_ ")


class _Markup(str):
    """reStructuredText that is already safe (its free text escaped): `_field_table` shows it as it is."""


def _onnx(card):
    """The card's ONNX record in one line, or None (the row is then left out)."""
    onnx = card.get("onnx")
    if not onnx:
        return None
    return (f"{onnx.get('file')} (opset {onnx.get('opset')}, {onnx.get('converter')}); checked with ONNX Runtime "
            f"{onnx.get('onnxruntime_checked')}: largest difference to the Keras model "
            f"{onnx.get('max_abs_difference_to_keras', float('nan')):.1e} on a fixed 64 × 64 input")


def _field_table(rows):
    lines = [".. list-table::", "   :widths: 28 72", "   :class: model-card-table", ""]
    for key, value in rows:
        if value in (None, "", [], {}):
            continue
        lines.append(f"   * - {key}")
        lines.append(f"     - {value if isinstance(value, _Markup) else _escape(_fmt(value))}")
    lines.append("")
    return lines


def _bullets(items):
    return [f"* {_escape(item)}" for item in items] + [""]


def _shorten_path(text):
    """Show data files by the path below the project's data folder, not the machine's absolute path."""
    text = str(text)
    for marker in ("/shared/data/", "/runs/denoise/data/"):
        if marker in text:
            text = ", ".join(part.strip().split(marker, 1)[-1] for part in text.split(","))
    return text


def _backend_versions(hardware):
    """The Keras backend a card's model was trained with, and its version (TensorFlow or JAX)."""
    if hardware.get("backend") == "jax":
        return f"JAX {hardware.get('jax')}"
    return f"TensorFlow {hardware.get('tensorflow')}"


def _enhance_card_rst(card):
    arch = card.get("architecture", {})
    training = card.get("training", {})
    norm = card.get("normalisation", {})
    psf_in = card.get("psf", {}).get("input", {})
    psf_out = card.get("psf", {}).get("target", {})
    data = card.get("training_data", {})
    epochs = training.get("epochs_completed")
    configured = training.get("epochs")
    hardware = training.get("hardware", {})
    architecture = (f"{arch.get('blocks')} residual blocks, {arch.get('filters')} filters, "
                    f"{arch.get('parameters', 'n/a')} parameters; receptive radius "
                    f"{card.get('receptive_radius')} input pixels")
    sampling = (f"{card.get('input_pixel_scale_arcsec')}″/px in, "
                f"{card.get('output_pixel_scale_arcsec')}″/px out (×{card.get('upscale')})")
    normalisation = (f"network value = (value − {norm.get('offset')}) / {norm.get('scale')}, "
                     f"value in {norm.get('unit')} ({norm.get('description')})")
    consistency = None
    if "consistency" in card:
        # the card's free text escaped, the function's name as code (escaped, its backticks would show)
        sigma = card["consistency"].get("smoothing_hmi_pixels")
        smoothing = (f"smoothed by a Gaussian of σ = {_fmt(sigma)} HMI pixels" if sigma else "not smoothed")
        consistency = _Markup(_escape(f"{card['consistency'].get('method')} after the network, residual {smoothing}")
                              + " (``sunpy_enhance.enhance.consistency.back_project``)")
    input_psf = (f"{psf_in.get('model')}: ε = {psf_in.get('epsilon')}, ω = {psf_in.get('omega')}, "
                 f"k = {psf_in.get('k')}, W = {psf_in.get('width')}, D = {psf_in.get('diameter_cm')} cm, "
                 f"λ = {psf_in.get('wavelength_angstrom')} Å, support "
                 f"±{psf_in.get('support_radius_arcsec')}″")
    target_psf = (f"{psf_out.get('model')}, D = {psf_out.get('diameter_cm')} cm, "
                  f"λ = {psf_out.get('wavelength_angstrom')} Å")
    length = optimiser = machine = None
    if epochs is not None:
        # the card counts epochs from 0 (``best_epoch``), the page and the training command from 1
        best_epoch = training["best_epoch"] + 1 if training.get("best_epoch") is not None else None
        length = (f"{epochs} of {configured} configured epochs ({training.get('steps_completed')} steps of "
                  f"{training.get('batch_size')} patches of {training.get('patch_size')}² input pixels, "
                  f"{training.get('patches_seen')} patches in all); best epoch {best_epoch}")
    if training:
        optimiser = (f"Adam, learning rate {training.get('learning_rate')}; ℓ2 {training.get('l2')}; "
                     f"input noise {training.get('noise')} (network units); precision "
                     f"{training.get('precision')}; forward-consistency weight {training.get('forward_weight')}")
    if hardware:
        gpus = f", GPUs {_fmt(hardware['gpus'])}" if hardware.get("gpus") else ""
        machine = (f"{training.get('wall_time_seconds')} s on {hardware.get('cpu_count')} CPU cores{gpus}; "
                   f"{_backend_versions(hardware)}, Keras {hardware.get('keras')}")
    lines = _field_table([
        ("Data kind", card.get("kind")),
        ("Method", card.get("method")),
        ("Architecture", architecture),
        ("Sampling", sampling),
        ("Normalisation", normalisation),
        ("Data consistency", consistency),
        ("Input PSF", input_psf),
        ("Target PSF", target_psf),
        ("Training length", length),
        ("Optimiser", optimiser),
        ("Best held-out MSE", training.get("best_validation_mse")),
        ("Wall time, hardware", machine),
        ("ONNX", _onnx(card)),
        ("Created", card.get("created")),
    ])
    if epochs is not None and configured and epochs < configured:
        limit = (f" (its last invocation had a time limit of {training['max_minutes']} min)"
                 if training.get("max_minutes") else "")
        lines += [".. note::", "",
                  (f"   This model is the best checkpoint after {epochs} of the {configured} epochs its last run was "
                   f"configured for{limit}. See :ref:`retraining` to train it further from these weights."), ""]
    lines += _stages_rst(training)
    if data:
        lines += [("**Training frames** (targets are these frames seen by a 28 cm telescope; inputs the same "
                  "frames through the HMI PSF and pixels):"), ""]
        lines += _bullets(data.get("frames", []))
        if data.get("validation"):
            lines += [f"**Validation:** {_escape(data['validation'])}.", ""]
        if data.get("real_hmi_forward_consistency"):
            lines += [("**Real HMI images used without targets** (forward-consistency loss: the output, "
                      "re-observed by HMI, must give back the input):"), ""]
            names = data["real_hmi_forward_consistency"]
            if len(names) > 6:
                lines += _bullets([*names[:4], f"… and {len(names) - 4} more of the same kind"])
            else:
                lines += _bullets(names)
        phases = data.get("phases_per_frame")
        extra = [f"{phases} sub-pixel phases per frame" if phases else "", data.get("augmentation", "")]
        extra = [e for e in extra if e]
        if extra:
            lines += [f"**Augmentation:** {_escape('; '.join(extra))}.", ""]
    lines += _metrics_rst(card.get("validation_metrics"))
    return lines


def _stages_rst(training):
    """The training stages of an Enhance card (each run started from the weights of the one before)."""
    from sunpy_enhance.enhance.training import convergence, training_stages

    stages = training_stages(training) if training else []
    if len(stages) < 2:
        return []
    records = []
    for number, stage in enumerate(stages, 1):
        change = convergence(stage["validation_history"])
        records.append({"stage": number, "learning rate": stage["learning_rate"],
                        "forward weight": stage["forward_weight"], "epochs": stage["epochs"],
                        "patches": stage["patches"], "best validation MSE": stage["best_validation_mse"],
                        "gain in its last 10 epochs": "n/a" if change is None else f"{100 * change:.2f}%",
                        "wall time (s)": stage["wall_time_seconds"]})
    total = sum(s["patches"] or 0 for s in stages)
    intro = (f"**Training history** ({len(stages)} runs, each starting from the weights of the one before; "
             f"{total} patches in all). The validation MSE is comparable within a run only (each run draws its "
             "own validation patches); \"gain in its last 10 epochs\" is how much the best validation MSE fell "
             "over the run's last 10 epochs (n/a: not recorded).")
    return [intro, "", *_records_table(records, title="Stages", first="stage")[2:]]


def _flatten(metrics, prefix=""):
    """Scalar entries of a nested dict as (dotted key, value); lists are summarised by their length."""
    rows = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += _flatten(value, prefix=f"{name}.")
        elif isinstance(value, (list, tuple)):
            if value and not isinstance(value[0], (dict, list, tuple)):
                rows.append((name, value))
            else:
                rows.append((name, f"{len(value)} entries (see the card)"))
        else:
            rows.append((name, value))
    return rows


def _records_table(records, *, title, first=None, skip=("figure", "shape")):
    """A table of a list of dicts (one row each); ``first`` names the column shown first."""
    records = [r for r in records if isinstance(r, dict)]
    if not records:
        return []
    columns = [k for k in dict.fromkeys(k for r in records for k in r)
               if k not in skip and not isinstance(records[0].get(k), (dict, list))]
    if first in columns:
        columns.remove(first)
        columns.insert(0, first)
    lines = [f"**{title}**", "", ".. list-table::", "   :header-rows: 1", "   :class: model-card-results", ""]
    lines.append(f"   * - {_escape(columns[0].replace('_', ' '))}")
    lines += [f"     - {_escape(c.replace('_', ' '))}" for c in columns[1:]]
    for record in records:
        cells = [_escape(_fmt(record.get(c, ""))) for c in columns]
        lines.append(f"   * - {cells[0]}")
        lines += [f"     - {cell}" for cell in cells[1:]]
    return [*lines, ""]


def _metrics_rst(metrics):
    """
    The evaluation recorded in an Enhance card (`sunpy_enhance.enhance.training.evaluation`): targets, frames and
    real data.
    """
    if not isinstance(metrics, dict) or not metrics:
        return []
    lines = [("**Evaluation** recorded in the card by `sunpy_enhance.enhance.training.evaluation` (held-out frames "
              "with a known 28 cm target, and a real HMI sample without one):"), ""]
    if isinstance(metrics.get("targets"), list):
        missed = [t for t in metrics["targets"] if t.get("met") == "NO"]
        if missed:
            lines += [".. warning::", "",
                      "   This model misses "
                      + "; ".join(f"{_escape(t['quantity'])}: {_fmt(t['measured'])} (target {_escape(t['target'])})"
                                  for t in missed)
                      + ". See :ref:`guide-training-data` for what sets it.", ""]
        lines += _records_table(metrics["targets"], title="Targets", first="quantity")
    elif isinstance(metrics.get("summary"), dict):
        lines += _field_table(_flatten(metrics["summary"]))
    if isinstance(metrics.get("validation_frames"), list):
        lines += _records_table(metrics["validation_frames"], title="Held-out validation frames",
                                first="frame")
    study = metrics.get("noise_study")
    if isinstance(study, list) and study:
        from sunpy_enhance.enhance.training.evaluation import noise_study_rows

        records = noise_study_rows(study)
        lines += _records_table(records, title=("Noise: RMS against the 28 cm truth, and the input noise passed to "
                                                "the output (noise_propagation, G rms; "
                                                "weak field: |B| < 100 G in the truth)"), first="frame")
    real = metrics.get("real_hmi")
    if isinstance(real, dict):
        methods = [dict(output=name, **values) for name, values in real.items() if isinstance(values, dict)]
        scalars = {k: v for k, v in real.items() if not isinstance(v, dict) and k != "figure"}
        title = "Real HMI sample" + (f" ({_escape(scalars.pop('file'))})" if "file" in scalars else "")
        lines += _records_table(methods, title=title, first="output")
        if scalars:
            lines += _field_table(list(scalars.items()))
    return lines


def _denoise_card_rst(card):
    arch = card.get("architecture", {})
    inp = card.get("input", {})
    training = card.get("training", {})
    last = training.get("last_log", {})
    kind = (f"Bayesian (Monte-Carlo dropout {arch.get('dropout')} and a log-variance head)"
            if arch.get("bayesian") else "deterministic")
    architecture = (f"U-Net, {arch.get('channels')} start channels, depth {arch.get('depth')}, {kind}, "
                    f"{arch.get('parameters')} parameters")
    scaling = (f"{inp.get('scaling')}: σ = {inp.get('noise')} {inp.get('unit')}; image sides padded to a "
               f"multiple of {inp.get('multiple_of')}")
    length = validation = machine = None
    if training:
        length = (f"{training.get('steps')} steps of {training.get('batch_size')} patches of "
                  f"{training.get('patch_size')}² pixels, learning rate {training.get('learning_rate')}")
        machine = f"{training.get('wall_time_s')} s, {training.get('hardware')}; {training.get('software')}"
    if last.get("val_rmse_sigma") is not None:
        validation = (f"RMS error {last['val_rmse_sigma']:.3f} σ (noisy input: "
                      f"{last.get('val_input_rmse_sigma', float('nan')):.3f} σ); "
                      f"{100 * last.get('val_within_1sigma', float('nan')):.1f}% of pixels within 1 predicted "
                      f"σ, {100 * last.get('val_within_2sigma', float('nan')):.1f}% within 2 "
                      "(68.3% and 95.4% if the uncertainty is calibrated)")
    lines = _field_table([
        ("Task", card.get("task")),
        ("Architecture", architecture),
        ("Input scaling", scaling),
        ("Outputs", card.get("output")),
        ("Training length", length),
        ("Final validation", validation),
        ("Wall time, hardware", machine),
        ("ONNX", _onnx(card)),
    ])
    if card.get("data"):
        lines += [f"**Training data:** {_escape(card['data'])}", ""]
    if card.get("held_out"):
        lines += [f"**Held out:** {_escape(card['held_out'])}", ""]
    held = (card.get("metrics") or {}).get("held_out")
    if isinstance(held, dict) and isinstance(held.get("results"), dict):
        lines += _results_table(held["results"], how=held.get("how"), date=held.get("date"))
    return lines


def _results_table(results, *, how=None, date=None):
    """A table of ``{data set: {metric: value}}`` (rows: data sets, columns: metrics)."""
    rows = {name: values for name, values in results.items() if isinstance(values, dict)}
    if not rows:
        return []
    columns = list(dict.fromkeys(key for values in rows.values() for key in values))
    when = f" ({_escape(date)})" if date else ""
    lines = [f"**Held-out evaluation**{when}:", "", ".. list-table::", "   :header-rows: 1",
             "   :class: model-card-results", "", "   * - data set"]
    lines += [f"     - {_escape(column)}" for column in columns]
    for name, values in rows.items():
        lines.append(f"   * - {_escape(name)}")
        lines += [f"     - {_escape(_fmt(values.get(column, '')))}" for column in columns]
    lines.append("")
    if how:
        lines += [f"*How:* {_escape(how)}", ""]
    return lines


def card_rst(name, *, show_json=True):
    """reStructuredText lines describing the bundled model ``name``."""
    card, path = _read_card(name)
    title = f"``{name}``"
    lines = [f".. _model-{name}:", "", title, "^" * len(title), ""]
    if card.get("description"):
        lines += [_escape(card["description"]), ""]
    if card.get("task") == "denoise" or card.get("architecture", {}).get("name") == "unet":
        lines += _denoise_card_rst(card)
    else:
        lines += _enhance_card_rst(card)
    if show_json:
        shown = json.loads(json.dumps(card))
        if "training" in shown and isinstance(shown["training"], dict) and "command" in shown["training"]:
            shown["training"]["command"] = "(the training command; see the card file)"
        for src in shown.get("training", {}).get("sources", []) if isinstance(shown.get("training"), dict) else []:
            if "name" in src:
                src["name"] = _shorten_path(src["name"])
            src.pop("images", None)
        text = json.dumps(shown, indent=1, ensure_ascii=False)
        lines += [".. raw:: html", "", ("   <details class=\"model-card-json\"><summary>The full card "
                  f"(<code>sunpy_enhance/data/models/{name}/card.json</code>)</summary>"), "",
                  ".. code-block:: json", ""]
        lines += ["   " + line for line in text.splitlines()]
        lines += ["", ".. raw:: html", "", "   </details>", ""]
    return lines, path


class ModelCardDirective(SphinxDirective):
    """``.. model-card:: NAME`` renders a bundled model's card."""

    required_arguments = 1
    has_content = False
    option_spec = {"no-json": directives.flag}

    def run(self):
        name = self.arguments[0]
        try:
            lines, path = card_rst(name, show_json="no-json" not in self.options)
        except FileNotFoundError:
            msg = f"model-card: no bundled model {name!r} (no card.json in {_models_dir() / name})"
            raise self.error(msg) from None
        self.env.note_dependency(str(path))
        return self._parse(lines)

    def _parse(self, lines):
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source=f"<model-card {self.arguments[0]}>"), node)
        return node.children


#: What each bundled model is for, when its card has no ``description`` of its own.
WHAT_FOR = {
    "enhance-continuum": ("Enhance for HMI continuum images (hmi.Ic_45s, hmi.Ic_720s, hmi.Ic_noLimbDark_720s): "
                          "deconvolution and x2 super-resolution to the view of a 28 cm telescope, in I/Ic."),
    "enhance-magnetogram": ("Enhance for HMI line-of-sight magnetograms (hmi.M_45s, hmi.M_720s): deconvolution and "
                            "x2 super-resolution of B_los in G, pre-trained on synthetic fields and fine-tuned on real "
                            "high-resolution magnetograms (GST/NIRIS, SST/CRISP, Hinode SP) with self-supervision on "
                            "real HMI data."),
    "enhance-continuum-light": ("The light Enhance network (one residual block of 32 filters) for HMI continuum "
                                "images: several times faster, less sharpening; the browser page's default."),
    "enhance-magnetogram-light": ("The light Enhance network (one residual block of 32 filters) for HMI "
                                  "line-of-sight magnetograms: several times faster, less sharpening; the browser "
                                  "page's default."),
    "denoise-polarimetry": "Self-supervised denoising of Stokes Q, U, V images (SST/CRISP-like), with uncertainties.",
    "denoise-hmi-magnetogram": "Self-supervised denoising of HMI line-of-sight magnetograms, with uncertainties.",
}


class BundledModelsDirective(SphinxDirective):
    """``.. bundled-models::`` a table of the bundled models."""

    has_content = False

    def run(self):
        from sunpy_enhance.models import available_models

        lines = [".. list-table::", "   :header-rows: 1", "   :widths: 25 75", "", "   * - Model",
                 "     - What it is for"]
        for name in available_models():
            card, path = _read_card(name)
            self.env.note_dependency(str(path))
            what = _escape(card.get("description") or WHAT_FOR.get(name) or card.get("method", ""))
            lines += [f"   * - :ref:`{name} <model-{name}>`", f"     - {what}"]
        lines.append("")
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(StringList(lines, source="<bundled-models>"), self.content_offset, node)
        return node.children


# ---------------------------------------------------------------------------------------------------
# changelog


class TowncrierDraftDirective(SphinxDirective):
    """``.. towncrier-draft::`` the unreleased changelog, from the fragments in ``changelog/``."""

    has_content = False

    def run(self):
        root = Path(self.config.sunpy_enhance_repo_root)
        for fragment in sorted((root / "changelog").glob("*.rst")):
            self.env.note_dependency(str(fragment))
        cmd = [sys.executable, "-m", "towncrier", "build", "--draft", "--dir", str(root),
               "--version", self.config.release, "--name", "sunpy-enhance", "--date", "unreleased"]
        result = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            msg = f"towncrier failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
            raise self.error(msg)
        text = result.stdout
        # towncrier prints a few progress lines before the rendered text; keep from the first title
        # (a line underlined with "=").
        lines = text.splitlines()
        start = next((i for i in range(len(lines) - 1)
                      if lines[i].strip() and set(lines[i + 1].strip()) == {"="}), None)
        if start is None:
            return [nodes.paragraph(text="No unreleased changes.")]
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines[start:], source="<towncrier draft>"), node)
        return node.children


# ---------------------------------------------------------------------------------------------------
# API reference pages

#: The public modules, in the order of the reference: page name -> module. Internals (reading and writing,
#: tiling, model loading, the header helpers, the network layers, Enhance's normalisation and consistency step)
#: are not part of the reference; their behaviour is described where it is used.
PUBLIC_MODULES = {
    "enhance": "sunpy_enhance.enhance",
    "richardson_lucy": "sunpy_enhance.richardson_lucy",
    "diagnostics": "sunpy_enhance.diagnostics",
    "denoise": "sunpy_enhance.denoise",
    "hmi": "sunpy_enhance.hmi",
    "solar": "sunpy_enhance.solar",
    "psf": "sunpy_enhance.psf",
    "degrade": "sunpy_enhance.degrade",
    "models": "sunpy_enhance.models",
    "export": "sunpy_enhance.export",
    "training": "sunpy_enhance.enhance.training",
    "evaluation": "sunpy_enhance.enhance.training.evaluation",
    "files": "sunpy_enhance.files",
    "batch": "sunpy_enhance.batch",
    "records": "sunpy_enhance.net.records",
    "jsoc": "sunpy_enhance.net.jsoc",
    "exports": "sunpy_enhance.net.exports",
    "fido": "sunpy_enhance.net.fido",
    "sample": "sunpy_enhance.sample",
    "visualization": "sunpy_enhance.visualization",
    "exceptions": "sunpy_enhance.exceptions",
    "cli": "sunpy_enhance.cli",
}


def public_modules():
    """Page names of the public modules (see `PUBLIC_MODULES`)."""
    return list(PUBLIC_MODULES)


def _generate_missing_reference_pages(app, config):
    srcdir = Path(app.srcdir)
    outdir = srcdir / "generated" / "reference"
    if outdir.is_dir():
        for old in outdir.glob("*.rst"):
            old.unlink()
    for name in public_modules():
        if (srcdir / "reference" / f"{name}.rst").is_file():
            continue
        outdir.mkdir(parents=True, exist_ok=True)
        module = PUBLIC_MODULES[name]
        title = f"``{module}``"
        (outdir / f"{name}.rst").write_text(
            f".. _reference-{name}:\n\n{title}\n{'*' * len(title)}\n\n"
            f".. automodapi:: {module}\n   :no-heading:\n   :no-inheritance-diagram:\n"
            "   :include-all-objects:\n   :headings: =-\n")
        logger.info(f"sunpy-enhance docs: generated a reference page for {module} "
                    f"(write docs/reference/{name}.rst to replace it)")


class ReferenceToctreeDirective(SphinxDirective):
    """``.. reference-toctree::`` one entry per public module."""

    has_content = False

    def run(self):
        srcdir = Path(self.env.srcdir)
        entries = []
        for name in public_modules():
            if (srcdir / "reference" / f"{name}.rst").is_file():
                entries.append(f"   {name}")
            else:
                entries.append(f"   /generated/reference/{name}")
        lines = [".. toctree::", "   :maxdepth: 1", ""] + entries + [""]
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(StringList(lines, source="<reference-toctree>"), self.content_offset, node)
        return node.children


class CommandLineHelpDirective(SphinxDirective):
    """``.. command-line-help::`` the help of ``sunpy-enhance`` and of each subcommand."""

    has_content = False

    def run(self):
        import argparse

        from sunpy_enhance.cli import build_parser

        parser = build_parser()
        lines = ["Overview", "========", "", ".. code-block:: text", ""]
        lines += ["   " + line for line in _help(parser).splitlines()] + [""]
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        for name, sub in sorted(subparsers.choices.items()):
            title = f"``sunpy-enhance {name}``"
            lines += [f".. _cli-{name}:", "", title, "=" * len(title), "", ".. code-block:: text", ""]
            lines += ["   " + line for line in _help(sub).splitlines()] + [""]
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="<command-line-help>"), node)
        return node.children


def _help(parser):
    import os

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "82"
    try:
        return parser.format_help()
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


# ---------------------------------------------------------------------------------------------------
# references


def _is_our_reference(node):
    target = node.get("reftarget", "")
    if target.startswith("sunpy_enhance"):
        return True
    module = node.get("py:module") or ""
    return module.startswith("sunpy_enhance") and "." not in target.lstrip("~.") and not hasattr(builtins, target)


def _existing_undocumented(node):
    """
    The object a reference to this package names, if it exists although it is not documented (not in
    its module's ``__all__``, e.g. a module constant a docstring mentions); None for a real broken link.
    """
    import importlib

    target = node.get("reftarget", "").lstrip("~.")
    candidates = []
    if target.startswith("sunpy_enhance"):
        parts = target.split(".")
        candidates = [(".".join(parts[:i]), parts[i:]) for i in range(len(parts) - 1, 0, -1)]
    elif node.get("py:module"):
        # The docstring of an object re-exported by a package (``sunpy_enhance.denoise.build_unet``) is
        # read in the package's context; its names live in the submodule that defines it.
        package = node["py:module"]
        candidates = [(package, target.split("."))]
        candidates += [(name, target.split(".")) for name in sorted(sys.modules)
                       if name.startswith(package + ".")]
    for module_name, attributes in candidates:
        try:
            obj = importlib.import_module(module_name)
        except ImportError:
            continue
        try:
            for attribute in attributes:
                obj = getattr(obj, attribute)
        except AttributeError:
            continue
        return obj
    return None


def _warn_missing_reference(app, domain, node):
    """
    Decide whether an unresolved Python reference is worth a warning (with ``-W``, a failed build).

    * references to other packages' objects (sunpy, astropy, numpy, ...) are never an error: offline,
      intersphinx cannot resolve them, and they are rendered as code;
    * references to objects of this package that exist but are not part of the documented API (not in
      ``__all__``) are rendered as code, and listed at the end of the build;
    * references to names of this package that do not exist are errors.
    """
    if domain is None or domain.name != "py":
        return None
    if not _is_our_reference(node):
        return True
    if _existing_undocumented(node) is not None:
        undocumented = app.env.__dict__.setdefault("sunpy_enhance_undocumented", set())
        undocumented.add((node.get("reftarget"), node.get("refdoc")))
        return True
    return None


def _report_undocumented(app, exception):
    undocumented = getattr(app.env, "sunpy_enhance_undocumented", set())
    if exception is None and undocumented:
        names = ", ".join(sorted({target for target, _ in undocumented}))
        logger.info(f"sunpy-enhance docs: references to objects outside the documented API, shown "
                    f"without a link: {names}")


def _record_documented_name(app, what, name, obj, options, lines):
    """Remember under which public name an object defined elsewhere is documented."""
    if what not in ("function", "class", "exception", "method", "attribute", "data"):
        return
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not (module and qualname) or not module.startswith("sunpy_enhance"):
        return
    canonical = f"{module}.{qualname}"
    if canonical != name:
        if not hasattr(app.env, "sunpy_enhance_aliases"):
            app.env.sunpy_enhance_aliases = {}
        app.env.sunpy_enhance_aliases[canonical] = name


def _merge_aliases(app, env, docnames, other):
    aliases = getattr(other, "sunpy_enhance_aliases", {})
    if aliases:
        if not hasattr(env, "sunpy_enhance_aliases"):
            env.sunpy_enhance_aliases = {}
        env.sunpy_enhance_aliases.update(aliases)


def _resolve_alias(app, env, node, contnode):
    """
    Resolve a reference to where an object is defined (``sunpy_enhance.denoise.api.denoise_map``) to
    where it is documented (``sunpy_enhance.denoise.denoise_map``); automodapi's smart resolver does this
    for classes only.
    """
    if node.get("refdomain") != "py":
        return None
    aliases = getattr(env, "sunpy_enhance_aliases", {})
    target = node.get("reftarget", "")
    documented = aliases.get(target)
    if documented is None and "." in target:  # a method or attribute of an aliased class
        front, _, suffix = target.rpartition(".")
        if front in aliases:
            documented = f"{aliases[front]}.{suffix}"
    if documented is None:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(env, node.get("refdoc", env.docname), app.builder, node["reftype"], documented,
                               node, contnode)


def setup(app):
    app.add_config_value("sunpy_enhance_repo_root", "..", "env")
    app.add_directive("model-card", ModelCardDirective)
    app.add_directive("bundled-models", BundledModelsDirective)
    app.add_directive("towncrier-draft", TowncrierDraftDirective)
    app.add_directive("reference-toctree", ReferenceToctreeDirective)
    app.add_directive("command-line-help", CommandLineHelpDirective)
    app.connect("config-inited", _generate_missing_reference_pages)
    app.connect("warn-missing-reference", _warn_missing_reference)
    app.connect("autodoc-process-docstring", _record_documented_name)
    app.connect("env-merge-info", _merge_aliases)
    app.connect("missing-reference", _resolve_alias)
    app.connect("build-finished", _report_undocumented)
    app.add_css_file("sunpy_enhance.css")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
