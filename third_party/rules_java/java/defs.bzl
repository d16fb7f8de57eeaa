"""Offline shim: re-exports Bazel's native Java rules (Bazel 4.2.3 would download rules_java)."""
java_binary = native.java_binary
java_import = native.java_import
java_library = native.java_library
java_runtime = native.java_runtime
java_test = native.java_test
java_toolchain = native.java_toolchain
