"""Every folder of library code is a package that a (non-editable) install ships."""

import os

import setuptools

import cmva_keras


def test_every_source_folder_is_found_by_setuptools():
    root = os.path.dirname(os.path.dirname(cmva_keras.__file__))
    found = set(setuptools.find_packages(where=root, include=["cmva_keras*"]))
    folders = set()
    for directory, _subdirs, files in os.walk(os.path.dirname(cmva_keras.__file__)):
        if "__pycache__" not in directory and any(name.endswith(".py") for name in files):
            folders.add(os.path.relpath(directory, root).replace(os.sep, "."))
    assert folders - found == set(), "add an __init__.py to these folders (pyproject's find skips them)"


def test_a_wheel_install_builds_a_run_from_a_task_name_outside_the_repository(tmp_path):
    """A non-editable install (the wheel, unpacked) finds its configs in the package, from any folder."""
    import subprocess
    import sys
    import zipfile

    root = os.path.dirname(os.path.dirname(cmva_keras.__file__))
    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheel_dir), root],
        check=True, cwd=tmp_path,
    )
    (wheel,) = wheel_dir.glob("cmva_keras-*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True, cwd=tmp_path,
    )
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "cmva_keras/configs/food.py" in names and "cmva_keras/configs/hand.py" in names
    assert not any("benchmark" in name for name in names)
    script = (
        "import cmva_keras, os; from cmva_keras.training.config import resolve_config; "
        "from cmva_keras import tasks; "
        "assert os.path.dirname(cmva_keras.__file__).startswith(os.environ['SITE']), cmva_keras.__file__; "
        "c = resolve_config('hand', 'smoke', method='cadavae', overrides=['train.batch_size=4']); "
        "m = tasks.get('hand').build_model(c, (32, 32, 3), (21, 3)); m.build((None, 32, 32, 3)); "
        "print(type(m).__name__, c.train.batch_size)"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "SITE": str(site)}
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, cwd=tmp_path,
                         env=env).stdout
    assert out.split()[-2:] == ["CADAVAE", "4"]
