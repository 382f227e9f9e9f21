"""
Importing the package: TensorFlow's C++ start-up logs stay quiet unless the user asked for them.
"""
import os
import subprocess
import sys

CODE = """
import os
import sunpy_enhance
from sunpy_enhance.models import load_model
import tensorflow as tf
tf.config.list_physical_devices()
tf.constant([1.0]) + 1
print("LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
"""


def _run(code, **env):
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ,
                          timeout=600, check=True)


def test_tensorflow_start_up_logs_are_silenced():
    result = _run(CODE)
    assert "LEVEL 3" in result.stdout
    assert "cuInit" not in result.stderr
    assert "E0000" not in result.stderr


def test_the_users_log_level_is_kept():
    result = _run("import os, sunpy_enhance; print('LEVEL', os.environ['TF_CPP_MIN_LOG_LEVEL'])",
                  TF_CPP_MIN_LOG_LEVEL="0")
    assert "LEVEL 0" in result.stdout
