"""
The training history of an Enhance model, read from its model card.

A bundled model is usually trained in stages: a run starts from the weights of an earlier one (``--init-weights``)
with its own settings, e.g. a lower learning rate. Each exported card records its own run under ``training`` and
the run it started from under ``training.initialised_from`` (the earlier card's ``training`` record, or the
earlier run directory's ``config.json``/``state.json`` and its own ``initialised_from.json``), so the whole chain
can be read back from the last card.
"""
__all__ = ["convergence", "training_stages"]


def _stage_from_card(training):
    return {"run": training.get("run_name"), "learning_rate": training.get("learning_rate"),
            "forward_weight": training.get("forward_weight"), "seed": training.get("seed"),
            "epochs": training.get("epochs_completed"), "patches": training.get("patches_seen"),
            "best_validation_mse": training.get("best_validation_mse"),
            "wall_time_seconds": training.get("wall_time_seconds"),
            "validation_history": training.get("validation_history")}


def _stage_from_run(info):
    config, state = info.get("config", {}), info.get("state", {})
    return {"run": info.get("run"), "learning_rate": config.get("learning_rate"),
            "forward_weight": config.get("forward_weight"), "seed": config.get("seed"),
            "epochs": info.get("epochs_completed"), "patches": info.get("patches_seen"),
            "best_validation_mse": state.get("best_val_loss"), "wall_time_seconds": info.get("wall_time_seconds"),
            "validation_history": None}


def training_stages(training):
    """
    The training stages of a model, oldest first.

    Parameters
    ----------
    training : dict
        The ``training`` record of a model card.

    Returns
    -------
    list of dict
        One entry per stage: ``run``, ``learning_rate``, ``forward_weight``, ``seed``, ``epochs``, ``patches``,
        ``best_validation_mse``, ``wall_time_seconds`` and ``validation_history`` (the validation MSE of every
        epoch, when the card recorded it; None otherwise). Stages are found by following
        ``initialised_from``. Each run draws its validation patches from the same held-out columns but with
        its own seed, so MSE values compare within a stage but not between stages (64 small patches: two seeds
        can differ by a factor of 2); ``sunpy-enhance evaluate`` (whole held-out frames) compares models.

    Examples
    --------
    >>> from sunpy_enhance.models import read_card
    >>> from sunpy_enhance.enhance.training import training_stages
    >>> stages = training_stages(read_card("enhance-continuum")["training"])
    >>> len(stages) > 1 and all(s["epochs"] > 0 for s in stages)
    True
    """
    stages = []
    record = training
    while record:
        stages.append(_stage_from_card(record))
        info = record.get("initialised_from") or {}
        record = info.get("training")
        while record is None and info.get("config"):  # a run directory, which may have started from another
            stages.append(_stage_from_run(info))
            info = info.get("initialised_from") or {}
            record = info.get("training")
    stages.reverse()
    return stages


def convergence(history, window=10):
    """
    How much the best validation MSE improved over the last ``window`` epochs, relative to its final value.

    Parameters
    ----------
    history : sequence of float
        Validation MSE of every epoch of a run.
    window : int, optional

    Returns
    -------
    float or None
        ``(best before the window − best at the end) / best at the end``: 0 when the last ``window`` epochs
        brought nothing, 0.01 when they lowered the best MSE by 1%. None when the run is not longer than
        ``window`` epochs.

    Examples
    --------
    >>> from sunpy_enhance.enhance.training import convergence
    >>> round(convergence([4.0, 3.0, 2.2, 2.1, 2.05, 2.0], window=2), 3)
    0.05
    """
    history = [float(v) for v in history or []]
    if len(history) <= window:
        return None
    before, after = min(history[:-window]), min(history)
    return (before - after) / after
