"""Offline shim: re-exports Bazel's native Python rules so nothing is downloaded."""
py_binary = native.py_binary
py_library = native.py_library
py_runtime = native.py_runtime
py_test = native.py_test
