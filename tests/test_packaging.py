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
